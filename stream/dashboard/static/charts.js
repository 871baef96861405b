// The three Chart.js charts. Chart.js comes from the vendored UMD build (window.Chart); one instance per canvas,
// updated in place when the figures change so the canvas never flickers or leaks instances.

import { money, percent, quantity, roi } from "./format.js";

const COLORS = {
  blue: "#2f6fde",
  amber: "#d9822b",
  slate: "#7b8799",
  grid: "rgba(31, 41, 55, 0.08)",
  text: "#4b5563",
};

function chartLib() {
  const Chart = window.Chart;
  if (typeof Chart !== "function") throw new Error("Chart.js did not load (stream/dashboard/static/vendor)");
  return Chart;
}

const withUnit = (label, currency) => (currency ? `${label} (${currency})` : label);

let configured = false;

function configure(Chart) {
  if (configured) return;
  configured = true;
  // No animation: figures should read as facts the moment they arrive, and screenshots stay deterministic.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.responsive = true;
  Chart.defaults.color = COLORS.text;
  Chart.defaults.borderColor = COLORS.grid;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
}

function draw(canvas, config) {
  const Chart = chartLib();
  configure(Chart);
  const existing = Chart.getChart(canvas);
  if (existing) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update();
    return existing;
  }
  return new Chart(canvas, config);
}

/** ROAS (left axis, "1:x") and CAC (right axis, money) per channel. */
export function drawChannels(canvas, rows, currency) {
  return draw(canvas, {
    type: "bar",
    data: {
      labels: rows.map((row) => row.channel),
      datasets: [
        { label: "ROI (revenue per 1 spent)", data: rows.map((row) => row.roas), yAxisID: "roas",
          backgroundColor: COLORS.blue, borderRadius: 3 },
        { label: withUnit("CAC", currency), data: rows.map((row) => row.cac), yAxisID: "cac",
          backgroundColor: COLORS.amber, borderRadius: 3 },
      ],
    },
    options: {
      plugins: {
        tooltip: {
          callbacks: {
            label: (item) => item.dataset.yAxisID === "roas"
              ? `ROI ${roi(item.raw)}`
              : `CAC ${money(item.raw, currency)}`,
          },
        },
      },
      scales: {
        roas: { position: "left", beginAtZero: true, title: { display: true, text: "ROI (1:x)" } },
        cac: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
               title: { display: true, text: withUnit("CAC", currency) } },
      },
    },
  });
}

/** Users per lifecycle step, horizontal, with step conversion and drop-off in the tooltip. */
export function drawFunnel(canvas, steps) {
  return draw(canvas, {
    type: "bar",
    data: {
      labels: steps.map((step) => step.step),
      datasets: [{ label: "Users", data: steps.map((step) => step.users), backgroundColor: COLORS.blue,
                   borderRadius: 3 }],
    },
    options: {
      indexAxis: "y",
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => `${quantity(item.raw)} users`,
            afterLabel: (item) => {
              const step = steps[item.dataIndex];
              return [`step conversion ${percent(step.step_conversion)}`, `drop-off ${quantity(step.drop_off)}`];
            },
          },
        },
      },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

/** Spend and attributed revenue per day. */
export function drawTrend(canvas, rows, currency) {
  const line = (label, key, color) => ({
    label, data: rows.map((row) => row[key]), borderColor: color, backgroundColor: color,
    borderWidth: 2, pointRadius: rows.length > 45 ? 0 : 2, tension: 0,
  });
  return draw(canvas, {
    type: "line",
    data: {
      labels: rows.map((row) => row.day),
      datasets: [line("Spend", "spend", COLORS.slate), line("Revenue", "revenue", COLORS.blue)],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: {
        tooltip: { callbacks: { label: (item) => `${item.dataset.label} ${money(item.raw, currency)}` } },
      },
      scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } }, y: { beginAtZero: true, title: { display: Boolean(currency), text: currency } } },
    },
  });
}
