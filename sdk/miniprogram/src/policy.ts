/**
 * What the client does with each answer of `POST /v1/batch`. Pure: the status, headers and body in, one
 * decision out. The rule the peers' bug trackers taught (docs/sdk.md, "Delivery"): only a 200 or a single
 * event refused on its own ever removes an event; everything else keeps the queue.
 */

import type { HttpResponse } from './types';

export const MIN_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 300_000;
/** A Retry-After beyond this is taken as this: a misconfigured proxy must not park a device for a day. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

export interface Rejection {
  index: number;
  code: string;
  reason: string;
}

export type Decision =
  | { kind: 'accepted'; rejected: Rejection[] }
  /** 400 / 413 for several events: send the halves. */
  | { kind: 'split' }
  /** 400 / 413 for one event: it will never be accepted. */
  | { kind: 'drop_one'; reason: string }
  /** 401 / 403: the write key or origin is refused; keep everything and stop. */
  | { kind: 'stop'; status: number }
  /** 429 / 503 with a usable Retry-After. */
  | { kind: 'wait'; delayMs: number }
  /** Network error, timeout, other status: exponential back-off. */
  | { kind: 'backoff' };

/** Retry-After as delta-seconds or an HTTP date, in ms from `nowMs`; null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) {
    return null;
  }
  const text = value.trim();
  let delay: number;
  if (/^[0-9]+$/.test(text)) {
    delay = Number(text) * 1000;
  } else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) {
      return null;
    }
    delay = at - nowMs;
  }
  return Math.min(Math.max(delay, 0), MAX_RETRY_AFTER_MS);
}

/** 1 s, 2 s, 4 s, ... up to 5 min, for the n-th consecutive failure (n ≥ 1). */
export function backoffMs(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(MIN_BACKOFF_MS * 2 ** exponent, MAX_BACKOFF_MS);
}

function header(headers: Record<string, string>, name: string): string | undefined {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) {
      return headers[key];
    }
  }
  return undefined;
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') {
    return body;
  }
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

function rejectionsOf(body: unknown): Rejection[] {
  const parsed = parseBody(body);
  if (parsed === null || typeof parsed !== 'object') {
    return [];
  }
  const rejected = (parsed as { rejected?: unknown }).rejected;
  if (!Array.isArray(rejected)) {
    return [];
  }
  const out: Rejection[] = [];
  for (const entry of rejected as unknown[]) {
    if (entry !== null && typeof entry === 'object') {
      const r = entry as { index?: unknown; code?: unknown; reason?: unknown };
      if (typeof r.index === 'number') {
        out.push({ index: r.index, code: String(r.code ?? ''), reason: String(r.reason ?? '') });
      }
    }
  }
  return out;
}

function detailOf(body: unknown): string {
  const parsed = parseBody(body);
  if (parsed !== null && typeof parsed === 'object') {
    const { message } = parsed as { message?: unknown };
    if (typeof message === 'string') {
      return message.slice(0, 300);
    }
  }
  return typeof body === 'string' ? body.slice(0, 300) : '';
}

export function decide(response: HttpResponse, batchSize: number, nowMs: number): Decision {
  const { status } = response;
  if (status >= 200 && status < 300) {
    return { kind: 'accepted', rejected: rejectionsOf(response.body) };
  }
  if (status === 400 || status === 413) {
    return batchSize > 1 ? { kind: 'split' } : { kind: 'drop_one', reason: `${String(status)} ${detailOf(response.body)}` };
  }
  if (status === 401 || status === 403) {
    return { kind: 'stop', status };
  }
  if (status === 429 || status === 503) {
    const delayMs = retryAfterMs(header(response.headers, 'retry-after'), nowMs);
    if (delayMs !== null) {
      return { kind: 'wait', delayMs };
    }
  }
  return { kind: 'backoff' };
}
