// The dashboard's controller: reads app, key and dates from the URL fragment (#app=...&key=...&from=...&to=...),
// keeps the key in sessionStorage only, loads the reports and renders them. Two pages: the reports, and the
// attribution health per day (#page=health), loaded when first shown for a scope.
//
// The fragment is never sent to a server, and the key is removed from it as soon as it is read, so it does not
// stay in the address bar, the history or a screenshot. The root element's data-state (idle, setup, loading,
// ready, error), data-model and data-page tell a test or an operator's script when the figures on screen are
// complete.

import { fetchReport, ReportError } from "./api.js";
import { drawChannels, drawFunnel, drawTrend } from "./charts.js";
import { buildCards } from "./cards.js";
import { dateRange, modelLabel, percent, quantity } from "./format.js";
import { renderChannels, renderFunnel, renderHealth, renderPaths, renderPostbacks, renderRetention } from "./tables.js";

const KEY_STORAGE = "touchstream.analystKey";
const PATHS_LIMIT = 10;
// The conversions the data-driven models credit on this page: the same ones as the standard models' columns
// (registrations are the acquisitions, first orders and repurchases the orders).
const DATA_DRIVEN_TYPES = "register,convert,repurchase";

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = byTestId("dashboard");
const form = byTestId("setup-form");
const modelSelect = byTestId("model-select");
const errorBox = byTestId("error");
const statusLine = byTestId("status");
const pageButtons = [byTestId("show-reports"), byTestId("show-health")];

let generation = 0;
let inFlight = null;
let current = null; // {app, from, to, currency, model, standard, dataDriven} of the figures on screen
let page = "reports";
let healthShown = ""; // the scope ("app|from|to") whose health rows are on screen

function setState(state, model) {
  root.dataset.state = state;
  if (model !== undefined) root.dataset.model = model;
  root.setAttribute("aria-busy", String(state === "loading"));
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function readFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const key = params.get("key");
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    params.delete("key");
    writeFragment(params);
  }
  return {
    app: (params.get("app") || "").trim(),
    from: params.get("from") || "",
    to: params.get("to") || "",
    model: params.get("model") || "",
    page: params.get("page") === "health" ? "health" : "reports",
  };
}

function writeFragment(params) {
  const clean = new URLSearchParams();
  for (const name of ["app", "from", "to", "model", "page"]) {
    const value = params.get(name);
    if (value) clean.set(name, value);
  }
  // replaceState does not fire hashchange, so rewriting the fragment never triggers a reload by itself.
  window.history.replaceState(null, "", `${window.location.pathname}#${clean}`);
}

function showForm(scope) {
  form.elements.app.value = scope.app;
  form.elements.key.value = "";
  form.elements.from.value = scope.from;
  form.elements.to.value = scope.to;
  form.hidden = false;
  (scope.app ? form.elements.key : form.elements.app).focus();
}

function fillModels(models, chosen) {
  modelSelect.replaceChildren(...models.map((model) => new Option(modelLabel(model), model)));
  modelSelect.value = chosen;
  modelSelect.disabled = false;
  modelSelect.closest("label").hidden = false;
}

/** Model select and page buttons are off while a load runs: switching mid-load would leave stale figures. */
function busy(flag) {
  modelSelect.disabled = flag;
  for (const button of pageButtons) button.disabled = flag;
}

function showPages() {
  root.dataset.page = page;
  for (const button of pageButtons) button.setAttribute("aria-pressed", String(button.dataset.page === page));
  byTestId("pages").hidden = !current;
  byTestId("reports").hidden = !current || page !== "reports";
  byTestId("health").hidden = !current || page !== "health";
  modelSelect.closest("label").hidden = !current || page !== "reports";
}

const isDataDriven = (model) => current.dataDriven.includes(model);
// A population model has no per-day figures: the trend stays under the first model with credits.
const trendModel = (model) => (isDataDriven(model) ? current.standard[0] : model);
const channelParams = (model) => (isDataDriven(model) ? { model, conversion_types: DATA_DRIVEN_TYPES } : { model });

function showScope(meta) {
  byTestId("scope-app").textContent = meta.app;
  byTestId("scope-range").textContent = dateRange(meta.date_from, meta.date_to);
  byTestId("scope-currency").textContent = meta.currency;
  byTestId("scope").hidden = false;
  byTestId("change-scope").hidden = false;
}

/** Starts a new load, cancelling the previous one; returns a guard that says whether this load is still current. */
function begin() {
  inFlight?.abort();
  inFlight = new AbortController();
  const run = ++generation;
  return { signal: inFlight.signal, live: () => run === generation };
}

function fail(error, scope) {
  if (error?.name === "AbortError") return;
  const message = error instanceof ReportError ? error.message : `The dashboard failed: ${error?.message ?? error}`;
  showError(message);
  statusLine.textContent = "";
  setState("error");
  if (!(error instanceof ReportError) || ![400, 401, 403].includes(error.status)) return;
  // The request itself was refused: whatever is on screen belongs to another app, range or key, so it goes.
  if (error.status === 401) sessionStorage.removeItem(KEY_STORAGE);
  current = null;
  healthShown = "";
  showPages();
  byTestId("scope").hidden = true;
  busy(true);
  showForm(scope);
}

function renderModelReports(channels, trend) {
  const { currency, model } = current;
  byTestId("channels-model").textContent = `· ${modelLabel(model)}`;
  drawChannels(byTestId("channels-chart"), channels.rows, currency);
  renderChannels(byTestId("channels-table"), channels, currency);
  drawTrend(byTestId("trend-chart"), trend.rows, currency);
  byTestId("trend-model").textContent = isDataDriven(model) ? `· ${modelLabel(trend.model)}` : "";
  const note = byTestId("channels-population");
  note.textContent = channels.population ? populationNote(model, channels.population) : "";
  note.hidden = !channels.population;
}

function populationNote(model, population) {
  const parts = [`${modelLabel(model)} credits over every path in the range to ${population.conversion_types.join(", ")}`];
  if (population.conversion_probability !== null) {
    parts.push(`conversion probability ${percent(population.conversion_probability)}`);
  }
  const left = population.left_out;
  if (left.converting_paths > 0 || left.open_paths > 0) {
    parts.push(`the path caps left out ${quantity(left.conversions)} conversions and ${quantity(left.open_journeys)} journeys without one`);
  }
  if (population.folded_channels.length > 0) {
    parts.push(`${quantity(population.folded_channels.length)} rare channels shown as one`);
  }
  return `${parts.join(" · ")}.`;
}

/** Reads the settled results; renders what arrived and reports the first failure, if any. */
function settle(results, render) {
  const failed = results.find((result) => result.status === "rejected");
  if (!failed) render(...results.map((result) => result.value));
  return failed?.reason;
}

async function load() {
  const scope = readFragment();
  const key = sessionStorage.getItem(KEY_STORAGE);
  showError("");
  page = scope.page;
  if (!scope.app || !key) {
    current = null;
    showPages();
    setState("setup");
    showForm(scope);
    return;
  }
  form.hidden = true;
  const { signal, live } = begin();
  setState("loading");
  statusLine.textContent = "Loading the reports…";
  try {
    const range = { app: scope.app, from: scope.from, to: scope.to };
    const meta = await fetchReport("meta", range, key, signal);
    if (!live()) return;
    // An app with no attributed conversion yet has no model in its credits; its spend still shows under the
    // API's default model.
    const models = meta.models.length > 0 ? meta.models : ["linear"];
    const dataDriven = meta.data_driven_models ?? [];
    const choices = [...models, ...dataDriven.filter((name) => !models.includes(name))];
    const model = choices.includes(scope.model) ? scope.model : models[0];
    // Every report asks for the days meta resolved, so a load that straddles midnight stays one range.
    const days = { app: meta.app, from: meta.date_from, to: meta.date_to };
    current = { ...days, currency: meta.currency, model, standard: models, dataDriven };
    healthShown = ""; // a new load reads the health rows afresh when they are shown
    fillModels(choices, model);
    // Switching models or pages mid-load would abort the other reports and leave them stale: wait for this load.
    busy(true);
    showScope(meta);
    showPages();
    if (page === "health") {
      await loadHealth(key, signal, live);
      return;
    }
    const results = await Promise.allSettled([
      fetchReport("channels", { ...days, ...channelParams(model) }, key, signal),
      fetchReport("trend", { ...days, model: trendModel(model) }, key, signal),
      fetchReport("funnel", days, key, signal),
      fetchReport("retention", days, key, signal),
      fetchReport("paths", { ...days, limit: PATHS_LIMIT }, key, signal),
    ]);
    if (!live()) return;
    const [channels, trend, funnel, retention, paths] = results;
    const problems = [
      settle([channels, trend], renderModelReports),
      settle([funnel], (report) => {
        const all = report.rows.find((row) => row.channel === "all");
        drawFunnel(byTestId("funnel-chart"), all ? all.steps : []);
        renderFunnel(byTestId("funnel-table"), all ? all.steps : []);
      }),
      settle([retention], (report) => renderRetention(
        byTestId("retention-table"), report.rows.filter((row) => row.channel === "all"))),
      settle([paths], (report) => renderPaths(byTestId("paths-table"), report.conversion_paths, current.currency)),
    ].filter(Boolean);
    if (problems.length > 0) throw problems[0];
    root.dataset.drawn = `${days.app}|${days.from}|${days.to}`;
    statusLine.textContent = "";
    setState("ready", model);
  } catch (error) {
    if (live()) fail(error, scope);
  } finally {
    if (live() && current) busy(false);
  }
}

/** The health page's rows for the current scope (fetched once per scope). */
async function loadHealth(key, signal, live) {
  const scope = `${current.app}|${current.from}|${current.to}`;
  if (healthShown !== scope) {
    statusLine.textContent = "Loading attribution health…";
    const report = await fetchReport("health", { app: current.app, from: current.from, to: current.to }, key, signal);
    if (!live()) return;
    renderHealth(byTestId("health-table"), report.rows);
    const postbacks = await fetchReport("postbacks", { app: current.app, from: current.from, to: current.to }, key,
                                        signal);
    if (!live()) return;
    renderPostbacks(byTestId("postbacks-table"), postbacks.statuses, postbacks.latency,
                    byTestId("postbacks-latency"));
    healthShown = scope;
  }
  statusLine.textContent = "";
  setState("ready", current.model);
}

/** Another page: the reports are reloaded only if they were never drawn for this scope. */
async function changePage(next) {
  if (!current || next === page) return;
  const params = new URLSearchParams(window.location.hash.slice(1));
  params.set("page", next);
  writeFragment(params);
  if (next === "reports" && root.dataset.drawn !== `${current.app}|${current.from}|${current.to}`) {
    load();
    return;
  }
  page = next;
  showPages();
  if (page === "reports") return;
  const { signal, live } = begin();
  setState("loading");
  showError("");
  busy(true);
  try {
    await loadHealth(sessionStorage.getItem(KEY_STORAGE), signal, live);
  } catch (error) {
    if (live()) fail(error, { app: current.app, from: current.from, to: current.to });
  } finally {
    if (live() && current) busy(false);
  }
}

/** A new model changes only the model-dependent reports: channels and the revenue trend. */
async function changeModel() {
  if (!current) return;
  const key = sessionStorage.getItem(KEY_STORAGE);
  const model = modelSelect.value;
  const params = new URLSearchParams(window.location.hash.slice(1));
  params.set("model", model);
  writeFragment(params);
  const { signal, live } = begin();
  setState("loading");
  showError("");
  statusLine.textContent = `Loading ${modelLabel(model)}…`;
  for (const button of pageButtons) button.disabled = true;
  try {
    const days = { app: current.app, from: current.from, to: current.to };
    const [channels, trend] = await Promise.all([
      fetchReport("channels", { ...days, ...channelParams(model) }, key, signal),
      fetchReport("trend", { ...days, model: trendModel(model) }, key, signal),
    ]);
    if (!live()) return;
    current = { ...current, model };
    renderModelReports(channels, trend);
    statusLine.textContent = "";
    setState("ready", model);
  } catch (error) {
    if (live()) fail(error, { app: current.app, from: current.from, to: current.to });
  } finally {
    if (live() && current) for (const button of pageButtons) button.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const app = form.elements.app.value.trim();
  // An empty key field keeps the key this tab already holds (changing only the app or the dates).
  const key = form.elements.key.value.trim() || sessionStorage.getItem(KEY_STORAGE) || "";
  if (!app || !key) {
    showError(!app ? "Enter the app id." : "Enter the analyst key.");
    (!app ? form.elements.app : form.elements.key).focus();
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  form.elements.key.value = "";
  const params = new URLSearchParams({ app });
  if (form.elements.from.value) params.set("from", form.elements.from.value);
  if (form.elements.to.value) params.set("to", form.elements.to.value);
  writeFragment(params);
  load();
});

byTestId("change-scope").addEventListener("click", () => {
  showForm({ app: current?.app ?? "", from: current?.from ?? "", to: current?.to ?? "" });
});
modelSelect.addEventListener("change", changeModel);
for (const button of pageButtons) button.addEventListener("click", () => changePage(button.dataset.page));
window.addEventListener("hashchange", load);
buildCards();
load();
