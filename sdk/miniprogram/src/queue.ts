/**
 * The event queue: encoded events in order, bounded by count and by the bytes one storage key may hold, and
 * the count of events it had to drop. Pure: the client writes `serialise()` through to storage.
 */

export interface Item {
  readonly id: string;
  readonly json: string;
  readonly bytes: number;
}

/** Persisted layout, version 1: `{"v":1,"dropped":n,"report":event|null,"events":[event, ...]}`. */
const HEADER_BYTES = 64;
const NONE: ReadonlySet<Item> = new Set();

export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      bytes += 1;
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i += 1;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

export function itemOf(id: string, json: string): Item {
  return { id, json, bytes: utf8Bytes(json) + 1 };
}

export class Queue {
  private items: Item[] = [];
  private total = 0;
  /** Events dropped for room and not yet reported to the collector. */
  dropped = 0;
  /** The pending drop report (an encoded `custom` event), sent ahead of the next batch until accepted. */
  report: Item | null = null;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /**
   * Appends, then drops the oldest until both bounds hold; returns how many were dropped. Events of the
   * request in flight (`sending`) are not dropped: its answer decides about them, so a drop is counted only
   * for an event that is really lost.
   */
  push(item: Item, sending: ReadonlySet<Item> = NONE): number {
    this.items.push(item);
    this.total += item.bytes;
    let dropped = 0;
    const budget = this.maxBytes - HEADER_BYTES - (this.report?.bytes ?? 0);
    let next = 0;
    while (next < this.items.length && (this.items.length > this.maxCount || this.total > budget)) {
      const candidate = this.items[next] as Item;
      if (sending.has(candidate)) {
        next += 1;
      } else {
        this.items.splice(next, 1);
        this.total -= candidate.bytes;
        dropped += 1;
      }
    }
    this.dropped += dropped;
    return dropped;
  }

  head(count: number): Item[] {
    return this.items.slice(0, count);
  }

  /** Removes these items wherever they are now (some may have been dropped for room meanwhile). */
  remove(sent: readonly Item[]): void {
    const gone = new Set(sent);
    const kept: Item[] = [];
    let total = 0;
    for (const item of this.items) {
      if (!gone.has(item)) {
        kept.push(item);
        total += item.bytes;
      }
    }
    this.items = kept;
    this.total = total;
  }

  clear(): void {
    this.items = [];
    this.total = 0;
    this.dropped = 0;
    this.report = null;
  }

  serialise(): string {
    const events = this.items.map((item) => item.json).join(',');
    const report = this.report === null ? 'null' : this.report.json;
    return `{"v":1,"dropped":${String(this.dropped)},"report":${report},"events":[${events}]}`;
  }

  /** Restores a serialised queue; anything unreadable is skipped (and counted as dropped). */
  restore(text: string | null): void {
    if (text === null || text === '') {
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.dropped += 1;
      return;
    }
    if (parsed === null || typeof parsed !== 'object') {
      return;
    }
    const state = parsed as { dropped?: unknown; report?: unknown; events?: unknown };
    const report = eventItem(state.report);
    if (report !== null) {
      this.report = report;
    }
    const events = Array.isArray(state.events) ? (state.events as unknown[]) : [];
    for (const event of events) {
      const item = eventItem(event);
      if (item === null) {
        this.dropped += 1;
      } else {
        this.push(item);
      }
    }
    if (typeof state.dropped === 'number' && Number.isInteger(state.dropped) && state.dropped > 0) {
      this.dropped += state.dropped;
    }
  }
}

function eventItem(value: unknown): Item | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const id = (value as { event_id?: unknown }).event_id;
  return typeof id === 'string' && id.length > 0 ? itemOf(id, JSON.stringify(value)) : null;
}
