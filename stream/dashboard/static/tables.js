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
