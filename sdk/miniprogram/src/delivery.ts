/**
 * Delivery: the queue written through to one storage key, and the one request in flight that drains it.
 *
 * Sends when `maxBatch` events wait, every `flushIntervalMs`, and on `flush()` (the app going to the
 * background). `sent_at` is stamped on every attempt. The answer decides (policy.ts): a 200 removes the batch,
 * 400/413 split it down to the one event refused, 401/403 stop sending and keep everything, 429/503 wait for
 * Retry-After, anything else backs off from 1 s to 5 min. A request whose callback never comes is given up
 * after its timeout plus a grace period, so a platform bug cannot wedge the queue.
 */

import { backoffMs, decide, type Decision } from './policy';
import { type Item, Queue } from './queue';
import type { Clock, Logger, PlatformPort, RequestResult, Settings } from './types';

export const QUEUE_KEY = 'touchstream_queue';
/** Below the collector's 500,000-byte body limit, with room for the envelope. */
const MAX_BATCH_BYTES = 450_000;
const WATCHDOG_GRACE_MS = 5_000;

export interface DeliveryEnv {
  port: PlatformPort;
  clock: Clock;
  logger: Logger;
  /** Encodes the drop report (a `custom` event) when events had to be dropped for room. */
  dropReport: (count: number) => Item;
}

interface Flight {
  token: number;
  items: Item[];
  report: Item | null;
  watchdog: unknown;
}

export class Delivery {
  readonly queue: Queue;
  private flight: Flight | null = null;
  private token = 0;
  private timer: unknown = null;
  private timerAt = 0;
  private blockedUntil = 0;
  private failures = 0;
  private stopped = false;
  /**
   * The sizes of the next batches while a batch the collector refused as a whole (400/413) is sent in parts:
   * a refused part is replaced by its two halves, in place, so the search narrows to the one bad event and
   * the rest keeps its order.
   */
  private segments: number[] = [];
  private paused = false;
  private storageWarned = false;

  constructor(
    private readonly settings: Settings,
    private readonly env: DeliveryEnv,
  ) {
    this.queue = new Queue(settings.maxQueue, env.port.maxItemBytes);
  }

  restore(): void {
    this.queue.restore(this.env.port.getItem(QUEUE_KEY));
    this.schedule();
  }

  /** Number of events not yet accepted (the drop report included). */
  pending(): number {
    return this.queue.length + (this.queue.report === null ? 0 : 1);
  }

  inFlight(): boolean {
    return this.flight !== null;
  }

  add(item: Item): void {
    const dropped = this.queue.push(item, new Set(this.flight?.items ?? []));
    if (dropped > 0) {
      this.env.logger.debug(`queue full: dropped the ${String(dropped)} oldest event(s)`);
    }
    this.persist();
    this.schedule();
  }

  /** Sends now unless a request is in flight or the collector asked to wait. */
  flush(): void {
    if (this.flight === null && !this.paused && !this.stopped && this.env.clock.now() >= this.blockedUntil) {
      this.send();
    }
  }

  /** Opted out: forget every queued event, on the device too, and send nothing until `resume()`. */
  discard(): void {
    this.paused = true;
    this.queue.clear();
    this.clearTimer();
    this.env.port.removeItem(QUEUE_KEY);
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  private persist(): void {
    if (this.paused) {
      return;
    }
    try {
      this.env.port.setItem(QUEUE_KEY, this.queue.serialise());
      this.storageWarned = false;
    } catch (error) {
      // The events stay in memory and are sent; the next change tries the write again.
      if (!this.storageWarned) {
        this.storageWarned = true;
        this.env.logger.debug(`could not store the queue (${describe(error)}); kept in memory`);
      }
    }
  }

  private schedule(): void {
    if (this.paused || this.stopped || this.flight !== null) {
      return;
    }
    if (this.pending() === 0 && this.queue.dropped === 0) {
      this.clearTimer();
      return;
    }
    const now = this.env.clock.now();
    if (now < this.blockedUntil) {
      this.arm(this.blockedUntil - now);
    } else if (this.queue.length >= this.settings.maxBatch || this.segments.length > 0) {
      this.send();
    } else {
      this.arm(this.settings.flushIntervalMs);
    }
  }

  private arm(delayMs: number): void {
    const at = this.env.clock.now() + delayMs;
    if (this.timer !== null && this.timerAt <= at) {
      return;
    }
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.env.clock.setTimeout(() => {
      this.timer = null;
      if (this.env.clock.now() >= this.blockedUntil) {
        this.flush();
      }
      this.schedule();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.env.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private send(): void {
    const { queue } = this;
    const splitting = this.segments.length > 0;
    if (!splitting && queue.dropped > 0 && queue.report === null) {
      queue.report = this.env.dropReport(queue.dropped);
      queue.dropped = 0;
      this.persist();
    }
    const limit = this.segments[0] ?? this.settings.maxBatch;
    const report = splitting ? null : queue.report;
    const items = fitting(queue.head(report === null ? limit : limit - 1), MAX_BATCH_BYTES - (report?.bytes ?? 0));
    const batch = report === null ? items : [report, ...items];
    if (batch.length === 0) {
      return;
    }
    this.clearTimer();
    this.token += 1;
    const token = this.token;
    const { clock, port } = this.env;
    const watchdog = clock.setTimeout(() => {
      this.finish(token, { ok: false, error: 'no answer within the request timeout' });
    }, this.settings.requestTimeoutMs + WATCHDOG_GRACE_MS);
    this.flight = { token, items, report, watchdog };
    const body = `{"sent_at":"${new Date(clock.now()).toISOString()}","events":[${batch.map((i) => i.json).join(',')}]}`;
    const request = {
      url: `${this.settings.endpoint.replace(/\/+$/, '')}/v1/batch`,
      headers: { 'Content-Type': 'application/json', 'X-Write-Key': this.settings.writeKey },
      body,
      timeoutMs: this.settings.requestTimeoutMs,
    };
    try {
      port.request(request, (result) => {
        this.finish(token, result);
      });
    } catch (error) {
      this.finish(token, { ok: false, error: describe(error) });
    }
  }

  private finish(token: number, result: RequestResult): void {
    const flight = this.flight;
    if (flight === null || flight.token !== token) {
      return; // an answer after the watchdog gave up: the events were (or will be) sent again, ids unchanged
    }
    this.flight = null;
    this.env.clock.clearTimeout(flight.watchdog);
    const size = flight.items.length + (flight.report === null ? 0 : 1);
    const now = this.env.clock.now();
    const decision: Decision = result.ok ? decide(result.response, size, now) : { kind: 'backoff' };
    if (!result.ok) {
      this.env.logger.debug(`send failed: ${result.error}`);
    }
    this.apply(flight, decision, now);
    this.schedule();
  }

  private apply(flight: Flight, decision: Decision, now: number): void {
    const { queue } = this;
    switch (decision.kind) {
      case 'accepted': {
        const batch = flight.report === null ? flight.items : [flight.report, ...flight.items];
        for (const r of decision.rejected) {
          this.env.logger.debug(`event ${batch[r.index]?.id ?? `#${String(r.index)}`} rejected (${r.code}): ${r.reason}`);
        }
        this.removeSent(flight.items);
        if (flight.report !== null && queue.report === flight.report) {
          queue.report = null;
        }
        this.failures = 0;
        this.persist();
        return;
      }
      case 'split': {
        const size = flight.items.length;
        const halves = size > 1 ? [Math.ceil(size / 2), Math.floor(size / 2)] : [size];
        this.segments.splice(0, this.segments.length > 0 ? 1 : 0, ...halves);
        return;
      }
      case 'drop_one': {
        const refused = flight.report ?? flight.items[0];
        this.env.logger.debug(`event ${refused?.id ?? ''} refused on its own, dropped: ${decision.reason}`);
        if (flight.report !== null) {
          queue.report = null;
        }
        this.removeSent(flight.items);
        this.persist();
        return;
      }
      case 'stop':
        this.stopped = true;
        this.env.logger.warn(
          `the collector refused the write key (${String(decision.status)}): sending stops until the next launch; ` +
            'events are kept on the device',
        );
        return;
      case 'wait':
        this.blockedUntil = now + decision.delayMs;
        return;
      case 'backoff':
        this.failures += 1;
        this.blockedUntil = now + backoffMs(this.failures);
        return;
    }
  }

  private removeSent(items: Item[]): void {
    this.queue.remove(items);
    this.segments.shift();
  }
}

/** The longest prefix within `budget` bytes, and at least one event (a larger one is the collector's to refuse). */
function fitting(items: Item[], budget: number): Item[] {
  let bytes = 0;
  for (let i = 0; i < items.length; i += 1) {
    bytes += (items[i] as Item).bytes;
    if (bytes > budget && i > 0) {
      return items.slice(0, i);
    }
  }
  return items;
}

export function describe(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const e = error as { errMsg?: unknown; message?: unknown; errorMessage?: unknown };
    const text = e.errMsg ?? e.errorMessage ?? e.message;
    if (typeof text === 'string') {
      return text.slice(0, 200);
    }
  }
  return String(error).slice(0, 200);
}
