/**
 * The fake `wx` / `tt` of test/fake.ts with a real network: `request` is node's `fetch`, so the SDK talks
 * HTTP to a real collector. Every 2xx answer is written into a ledger of the events it acknowledged.
 */

import { createClient } from '../src/api';
import { systemClock } from '../src/globals';
import { type WxLikeApi, type WxRequestOptions, wxLikePort } from '../src/platforms/wxlike';
import type { InitOptions } from '../src/types';
import { FakeClock, FakeHost, FakeNetwork, FakeStorage, fakeWxLike } from './fake';
import type { Sdk } from './helpers';

export interface Ledger {
  /** event_id → the event as sent, for every event a 200 acknowledged and did not reject. */
  acknowledged: Map<string, Record<string, unknown>>;
  statuses: number[];
  /** Requests that got no HTTP answer (connection refused, reset, timed out). */
  failures: number;
}

function fetchRequest(ledger: Ledger): WxLikeApi['request'] {
  return (o: WxRequestOptions) => {
    fetch(o.url, { method: 'POST', headers: o.header, body: o.data, signal: AbortSignal.timeout(o.timeout) }).then(
      async (res) => {
        const text = await res.text();
        let data: unknown = text;
        try {
          data = JSON.parse(text);
        } catch {
          // not JSON: handed over as text, as wx does
        }
        ledger.statuses.push(res.status);
        if (res.ok) {
          const events = (JSON.parse(o.data) as { events: Array<Record<string, unknown>> }).events;
          const rejected = new Set(((data as { rejected?: Array<{ index: number }> }).rejected ?? []).map((r) => r.index));
          events.forEach((event, index) => {
            if (!rejected.has(index)) ledger.acknowledged.set(event.event_id as string, event);
          });
        }
        o.success({ statusCode: res.status, header: Object.fromEntries(res.headers), data });
      },
      (error: unknown) => {
        ledger.failures += 1;
        o.fail({ errMsg: `request:fail ${String(error)}` });
      },
    );
  };
}

/** One device: its own storage, the real clock and timers, `fetch` for requests. */
export function device(options: InitOptions, ledger: Ledger): Sdk & { storage: FakeStorage } {
  const storage = new FakeStorage();
  const unused = new FakeNetwork(new FakeClock());
  const api: WxLikeApi = { ...fakeWxLike(storage, unused, { launch: {} }), request: fetchRequest(ledger) };
  const host = new FakeHost();
  const logger = { warn: (m: string) => process.stderr.write(`warn: ${m}\n`), debug: (m: string) => process.stderr.write(`debug: ${m}\n`) };
  const { client, tracker } = createClient(options, { port: wxLikePort(options.platform, api), clock: systemClock, random: Math.random, logger }, host);
  host.App({});
  host.Page({ onShareAppMessage: () => ({ title: 'look' }) });
  return { client, tracker, host, storage, kill: () => undefined };
}
