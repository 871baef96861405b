// The dashboard's controller: reads app, key and dates from the URL fragment (#app=...&key=...&from=...&to=...),
// keeps the key in sessionStorage only, loads the reports and renders them.
//
// The fragment is never sent to a server, and the key is removed from it as soon as it is read, so it does not
// stay in the address bar, the history or a screenshot. The root element's data-state (idle, setup, loading,
// ready, error) and data-model tell a test or an operator's script when the figures on screen are complete.

import { fetchReport, ReportError } from "./api.js";
import { drawChannels, drawFunnel, drawTrend } from "./charts.js";
import { dateRange, modelLabel } from "./format.js";
import { renderChannels, renderFunnel, renderPaths, renderRetention } from "./tables.js";

const KEY_STORAGE = "touchstream.analystKey";
const PATHS_LIMIT = 10;

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const root = byTestId("dashboard");
const form = byTestId("setup-form");
const modelSelect = byTestId("model-select");
const errorBox = byTestId("error");
const statusLine = byTestId("status");

let generation = 0;
let inFlight = null;
let current = null; // {app, from, to, currency, model} of the figures on screen

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
  };
}

function writeFragment(params) {
  const clean = new URLSearchParams();
  for (const name of ["app", "from", "to", "model"]) {
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
  byTestId("reports").hidden = true;
  byTestId("scope").hidden = true;
  modelSelect.disabled = true;
  showForm(scope);
}

function renderModelReports(channels, trend) {
  const { currency, model } = current;
  byTestId("channels-model").textContent = `· ${modelLabel(model)}`;
  drawChannels(byTestId("channels-chart"), channels.rows, currency);
  renderChannels(byTestId("channels-table"), channels, currency);
  drawTrend(byTestId("trend-chart"), trend.rows, currency);
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
  if (!scope.app || !key) {
    byTestId("reports").hidden = true;
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
    const model = models.includes(scope.model) ? scope.model : models[0];
    // Every report asks for the days meta resolved, so a load that straddles midnight stays one range.
    const days = { app: meta.app, from: meta.date_from, to: meta.date_to };
    current = { ...days, currency: meta.currency, model };
    fillModels(models, model);
    // Switching models mid-load would abort the other reports and leave them stale: wait for this load.
    modelSelect.disabled = true;
    showScope(meta);
    byTestId("reports").hidden = false;
    const results = await Promise.allSettled([
      fetchReport("channels", { ...days, model }, key, signal),
      fetchReport("trend", { ...days, model }, key, signal),
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
    statusLine.textContent = "";
    setState("ready", model);
  } catch (error) {
    if (live()) fail(error, scope);
  } finally {
    if (live() && current) modelSelect.disabled = false;
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
  try {
    const days = { app: current.app, from: current.from, to: current.to, model };
    const [channels, trend] = await Promise.all([
      fetchReport("channels", days, key, signal),
      fetchReport("trend", days, key, signal),
    ]);
    if (!live()) return;
    current = { ...current, model };
    renderModelReports(channels, trend);
    statusLine.textContent = "";
    setState("ready", model);
  } catch (error) {
    if (live()) fail(error, { app: current.app, from: current.from, to: current.to });
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
window.addEventListener("hashchange", load);
load();
