// Number formatting for the dashboard. Fixed en-US grouping so every operator (and the browser test) reads the
// same text whatever the browser's locale; the currency code comes from /v1/reports/meta.

export const MISSING = "—";

const money2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const percent1 = new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

/** "1,234.50 CNY"; "—" for null. */
export function money(value, currency) {
  if (!isNumber(value)) return MISSING;
  return currency ? `${money2.format(value)} ${currency}` : money2.format(value);
}

/** Whole counts as integers, fractional (credited) counts with up to 2 decimals. */
export function quantity(value) {
  return isNumber(value) ? count.format(value) : MISSING;
}

/** ROI as the seeds write it: "1:x", x = revenue / spend (roas), 2 decimals. */
export function roi(roas) {
  return isNumber(roas) ? `1:${money2.format(roas)}` : MISSING;
}

export function percent(rate) {
  return isNumber(rate) ? percent1.format(rate) : MISSING;
}

/** "2026-10-24 – 2026-11-22" */
export function dateRange(from, to) {
  return `${from} – ${to}`;
}

/** "first_touch" → "First touch"; custom model names keep their own spelling after the first letter. */
export function modelLabel(model) {
  const words = String(model).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
