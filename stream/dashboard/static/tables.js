// The tables under the charts, the retention heatmap and the paths list. Built with DOM nodes and textContent
// only: every string comes from the API (channel names, paths, custom model names) and is never parsed as HTML.

import { MISSING, money, percent, quantity, roi } from "./format.js";

function cell(tag, text, { numeric = false, field, value, header = false } = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (numeric) node.className = "num";
  if (field) node.dataset.field = field;
  if (value !== undefined) node.dataset.value = value === null ? "" : String(value);
  if (header) node.scope = "row";
  return node;
}

function emptyRow(tbody, columns, text) {
  const row = document.createElement("tr");
  const only = cell("td", text);
  only.colSpan = columns;
  only.className = "empty-note";
  row.append(only);
  tbody.append(row);
}

/** One row per channel (as ordered by the API: spend, then revenue, descending) and a totals row. */
export function renderChannels(table, report, currency) {
  const tbody = table.tBodies[0];
  const tfoot = table.tFoot;
  tbody.replaceChildren();
  tfoot.replaceChildren();
  if (report.rows.length === 0) {
    emptyRow(tbody, 8, "No conversions or spend in this range.");
    return;
  }
  const figures = (row, tag) => [
    cell(tag, quantity(row.acquisitions), { numeric: true, field: "acquisitions", value: row.acquisitions }),
    cell(tag, quantity(row.orders), { numeric: true, field: "orders", value: row.orders }),
    cell(tag, money(row.revenue, currency), { numeric: true, field: "revenue", value: row.revenue }),
    cell(tag, money(row.spend, currency), { numeric: true, field: "spend", value: row.spend }),
    cell(tag, money(row.cac, currency), { numeric: true, field: "cac", value: row.cac }),
    cell(tag, roi(row.roas), { numeric: true, field: "roas", value: row.roas }),  // shown as ROI 1:x
  ];
  for (const row of report.rows) {
    const tr = document.createElement("tr");
    tr.dataset.channel = row.channel;
    tr.append(cell("th", row.channel, { header: true, field: "channel" }),
              cell("td", row.channel_type ?? MISSING, { field: "channel_type" }), ...figures(row, "td"));
    tbody.append(tr);
  }
  const total = document.createElement("tr");
  total.dataset.channel = "total";
  total.append(cell("th", "Total", { header: true }), cell("td", ""), ...figures(report.totals, "td"));
  tfoot.append(total);
}

export function renderFunnel(table, steps) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  if (steps.length === 0) {
    emptyRow(tbody, 5, "No lifecycle events in this range.");
    return;
  }
  for (const step of steps) {
    const tr = document.createElement("tr");
    tr.dataset.step = step.step;
    tr.append(
      cell("th", step.step, { header: true }),
      cell("td", quantity(step.users), { numeric: true, field: "users", value: step.users }),
      cell("td", percent(step.step_conversion), { numeric: true, field: "step_conversion", value: step.step_conversion }),
      cell("td", quantity(step.drop_off), { numeric: true, field: "drop_off", value: step.drop_off }),
      cell("td", percent(step.overall_conversion),
           { numeric: true, field: "overall_conversion", value: step.overall_conversion }),
    );
    tbody.append(tr);
  }
}

/** Cells shaded by rate (0 → white, 1 → full blue) and labelled with the percentage, so colour is never the
 * only carrier of the figure. Shading goes through the CSSOM, which the page's CSP allows (unlike style="..."). */
function heatCell(rate, field) {
  const td = cell("td", rate === null || rate === undefined ? "" : percent(rate), { numeric: true, field, value: rate ?? null });
  td.classList.add("heat");
  if (typeof rate === "number") {
    const clamped = Math.max(0, Math.min(1, rate));
    td.style.backgroundColor = `rgba(47, 111, 222, ${(0.08 + 0.82 * clamped).toFixed(3)})`;
    if (clamped >= 0.5) td.classList.add("heat-dark");
  } else {
    td.classList.add("heat-empty");
    td.setAttribute("aria-label", "not observable yet");
  }
  return td;
}

export function renderRetention(table, rows) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  if (rows.length === 0) {
    emptyRow(tbody, 5, "No registrations in this range.");
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.cohort = row.cohort;
    tr.append(cell("th", row.cohort, { header: true }),
              cell("td", quantity(row.users), { numeric: true, field: "users", value: row.users }),
              heatCell(row.d1, "d1"), heatCell(row.d7, "d7"), heatCell(row.d30, "d30"));
    tbody.append(tr);
  }
}

export function renderPaths(table, paths, currency) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  if (paths.length === 0) {
    emptyRow(tbody, 4, "No first orders in this range.");
    return;
  }
  const top = Math.max(...paths.map((path) => path.conversions), 1);
  for (const path of paths) {
    const tr = document.createElement("tr");
    const label = path.path.join(" → ");
    tr.dataset.path = path.path.join(">");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${((100 * path.conversions) / top).toFixed(1)}%`;
    const barCell = document.createElement("td");
    barCell.className = "bar-col";
    barCell.setAttribute("aria-hidden", "true");
    barCell.append(bar);
    tr.append(cell("th", label, { header: true, field: "path" }),
              cell("td", quantity(path.conversions), { numeric: true, field: "conversions", value: path.conversions }),
              cell("td", money(path.revenue, currency), { numeric: true, field: "revenue", value: path.revenue }),
              barCell);
    tbody.append(tr);
  }
}

/** A count with its share of the day, "2 (33.3%)"; the share is left out when there is nothing to divide by. */
function countWithShare(count, share) {
  return share === null || share === undefined ? quantity(count) : `${quantity(count)} (${percent(share)})`;
}

/** One row per day of the range (the API zero-fills), oldest first. */
/** The postbacks card: one row per day, integration and status; `latency` rows become the note under it. */
export function renderPostbacks(table, rows, latency, note) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  if (rows.length === 0) emptyRow(tbody, 7, "No postbacks decided in this range.");
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.status = row.status;
    tr.append(
      cell("th", row.day, { header: true }), cell("td", row.integration_id), cell("td", row.platform),
      cell("td", row.status, { field: "status", value: row.status }),
      cell("td", quantity(row.intents), { numeric: true, field: "intents", value: row.intents }),
      cell("td", quantity(row.reattributed), { numeric: true, field: "reattributed", value: row.reattributed }),
      cell("td", quantity(row.withdrawn), { numeric: true, field: "withdrawn", value: row.withdrawn }),
    );
    tbody.append(tr);
  }
  note.textContent = latency.map((l) => `${l.integration_id}: p50 ${l.p50_ms} ms, p95 ${l.p95_ms} ms `
    + `over ${quantity(l.attempts)} attempts`).join("; ");
  note.hidden = latency.length === 0;
}

export function renderHealth(table, rows) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren();
  if (rows.length === 0) {
    emptyRow(tbody, 13, "No days in this range.");
    return;
  }
  const figure = (field, text, value) => cell("td", text, { numeric: true, field, value });
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.day = row.day;
    tr.append(
      cell("th", row.day, { header: true }),
      figure("events", quantity(row.events), row.events),
      figure("clock_corrected", countWithShare(row.clock_corrected, row.clock_corrected_share), row.clock_corrected),
      figure("clock_clamped", countWithShare(row.clock_clamped, row.clock_clamped_share), row.clock_clamped),
      figure("late_events", countWithShare(row.late_events, row.late_share), row.late_events),
      figure("duplicates_absorbed", quantity(row.duplicates_absorbed), row.duplicates_absorbed),
      figure("ad_clicks", quantity(row.ad_clicks), row.ad_clicks),
      figure("unmatched_clicks", quantity(row.unmatched_clicks), row.unmatched_clicks),
      figure("visits_without_click", quantity(row.visits_without_click), row.visits_without_click),
      figure("shared_click_visits", quantity(row.shared_click_visits), row.shared_click_visits),
      figure("reused_click_ids", quantity(row.reused_click_ids), row.reused_click_ids),
      figure("conversions", quantity(row.conversions), row.conversions),
      figure("direct_conversions", countWithShare(row.direct_conversions, row.direct_share), row.direct_conversions),
    );
    tbody.append(tr);
  }
}
