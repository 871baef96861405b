// The report API client: one GET per report, the analyst key as a Bearer header, errors in plain words.
// The key is never put in a URL and never logged; error messages never repeat it.

export class ReportError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ReportError";
    this.status = status;
  }
}

/** What an operator should read for a failed call. `detail` is the server's {"error": ...} text, if any. */
export function explain(status, detail, app) {
  switch (status) {
    case 401:
      return "The analyst key was not accepted. Check it and enter it again.";
    case 403:
      return `This analyst key may not read the app “${app}”. Ask for a key that covers it, or pick another app.`;
    case 400:
      return `The report server refused the request: ${detail || "a parameter is not valid"}.`;
    case 404:
      return "This server has no report API at /v1/reports (is it the stream processor's query server?).";
    default:
      return status >= 500
        ? `The report server failed (HTTP ${status})${detail ? `: ${detail}` : ""}. Try again in a moment.`
        : `The report server answered HTTP ${status}${detail ? `: ${detail}` : ""}.`;
  }
}

async function errorDetail(response) {
  try {
    const body = await response.json();
    return typeof body?.error === "string" ? body.error : "";
  } catch {
    return "";
  }
}

/**
 * GET /v1/reports/<report>?<params> and return the parsed JSON.
 * Relative to the page, so a dashboard served under a path prefix calls the API under the same prefix.
 */
export async function fetchReport(report, params, key, signal) {
  const url = new URL(`v1/reports/${report}`, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      signal,
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ReportError(0, "The report server could not be reached. Is the stream processor running?");
  }
  if (!response.ok) {
    throw new ReportError(response.status, explain(response.status, await errorDetail(response), params.app));
  }
  return response.json();
}
