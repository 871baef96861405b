// The cards of both pages, built from one template: index.html names the cards of each container in
// data-cards, and every card (heading, optional chart, optional table with its column headings, notes) is
// described once below. Built with DOM nodes and textContent only, like the tables.

const COLUMNS = {
  channels: [
    ["Channel"], ["Type"], ["Acquisitions", "num"], ["Orders", "num"], ["Revenue", "num"], ["Spend", "num"],
    ["CAC", "num"], ["ROI", "num"],
  ],
  funnel: [["Step"], ["Users", "num"], ["Step conversion", "num"], ["Drop-off", "num"], ["Overall", "num"]],
  retention: [["Cohort"], ["Users", "num"], ["D1", "num"], ["D7", "num"], ["D30", "num"]],
  paths: [["Path"], ["First orders", "num"], ["Revenue", "num"], ["Share of the top path", "bar-col", true]],
  health: [
    ["Day"], ["Events", "num"], ["Clock corrected", "num"], ["Clock clamped", "num"], ["Late", "num"],
    ["Duplicates absorbed", "num"], ["Ad clicks", "num"], ["Unmatched clicks", "num"],
    ["Visits without webhook", "num"], ["Shared-click visits", "num"], ["Reused click ids", "num"],
    ["Conversions", "num"], ["Direct", "num"],
  ],
  postbacks: [
    ["Day"], ["Integration"], ["Platform"], ["Status"], ["Intents", "num"], ["Re-attributed", "num"],
    ["Withdrawn", "num"],
  ],
};

// name: { title, wide, subtitle (testid of the span after the title), chart (its aria-label), table: {caption,
// foot, className}, notes: [text or {testid}] }
const CARDS = {
  channels: {
    title: "ROI and CAC by channel", wide: true, subtitle: "channels-model",
    chart: "Bar chart of return on ad spend and customer acquisition cost by channel",
    table: { caption: "Figures by channel under the selected attribution model", foot: true },
    notes: [
      "ROI 1:x means x of revenue for every 1 spent (revenue ÷ spend). CAC is spend ÷ acquisitions (registrations "
        + "credited to the channel). “—” means there is nothing to divide by.",
      { testid: "channels-population" },
    ],
  },
  trend: {
    title: "Spend and revenue per day", wide: true, subtitle: "trend-model",
    chart: "Line chart of spend and attributed revenue per day",
  },
  funnel: {
    title: "Lifecycle funnel", chart: "Bar chart of users reaching each lifecycle step",
    table: { caption: "Users per lifecycle step, all channels" },
  },
  retention: {
    title: "Retention by registration cohort",
    table: { caption: "Share of each day's new registrations active again on day 1, 7 and 30", className: "heatmap" },
    notes: ["Darker is better. An empty cell means the day is not observable yet."],
  },
  paths: {
    title: "Top paths to a first order",
    table: { caption: "The most frequent channel sequences before a first order" },
  },
  health: {
    title: "Attribution health per day", wide: true,
    table: { caption: "Per day: clock corrections, duplicates, late events, click matching and direct conversions" },
    notes: [
      "Shares are of the day's events (of its conversions for direct). Unmatched clicks: ad-click webhooks no "
        + "visit carried. Visits without webhook: visits whose click id never arrived from the ad platform. "
        + "Shared-click visits: visits carrying another person's click id (a copied share link). Late: events "
        + "that arrived past the allowed lateness.",
    ],
  },
  postbacks: {
    title: "Conversion postbacks", wide: true,
    table: { caption: "Postback intents per day of decision, integration and latest status" },
    notes: [
      "success: the platform took it; retriable: tried again with back-off for 24 hours, then dead; failed: "
        + "refused by the platform (or not sent: a host not allowed); unknown: the worker stopped between send "
        + "and record and did not resend. Re-attributed: the conversion went to another channel after the "
        + "decision (platforms cannot retract one). Withdrawn: the conversion was tombstoned.",
      { testid: "postbacks-latency" },
    ],
  },
};

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function head(columns) {
  const row = document.createElement("tr");
  for (const [label, className, hiddenLabel] of COLUMNS[columns]) {
    const th = element("th", { scope: "col" });
    if (className) th.className = className;
    if (hiddenLabel) th.append(element("span", { class: "visually-hidden" }, label));
    else th.textContent = label;
    row.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(row);
  return thead;
}

function card(name) {
  const spec = CARDS[name];
  const section = element("section", { class: spec.wide ? "card wide" : "card", "aria-labelledby": `${name}-title` });
  const title = element("h2", { id: `${name}-title` }, spec.title);
  if (spec.subtitle) {
    title.append(" ", element("span", { class: "muted", "data-testid": spec.subtitle }));
  }
  section.append(title);
  if (spec.chart) {
    const box = element("div", { class: "chart-box" });
    box.append(element("canvas", { id: `${name}-chart`, "data-testid": `${name}-chart`, role: "img",
                                   "aria-label": spec.chart }));
    section.append(box);
  }
  if (spec.table) {
    const scroll = element("div", { class: "table-scroll" });
    const table = element("table", { "data-testid": `${name}-table` });
    if (spec.table.className) table.className = spec.table.className;
    table.append(element("caption", { class: "visually-hidden" }, spec.table.caption), head(name),
                 document.createElement("tbody"));
    if (spec.table.foot) table.append(document.createElement("tfoot"));
    scroll.append(table);
    section.append(scroll);
  }
  for (const note of spec.notes ?? []) {
    section.append(typeof note === "string"
      ? element("p", { class: "muted small" }, note)
      : Object.assign(element("p", { class: "muted small", "data-testid": note.testid }), { hidden: true }));
  }
  return section;
}

/** Builds the cards every [data-cards] container names, in order, ahead of what it already holds. */
export function buildCards(root = document) {
  for (const container of root.querySelectorAll("[data-cards]")) {
    container.prepend(...container.dataset.cards.split(" ").map(card));
  }
}
