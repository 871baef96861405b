/**
 * A hand-written fake of the mini-program platforms for node: `wx` / `tt` / `swan` and `my` over one storage
 * and one network, the App/Page/Component globals with a lifecycle to drive, and a fake clock.
 * The SDK's real adapters (src/platforms/) run on top of it.
 */

import type { Host } from '../src/autotrack';
import type { MyApi } from '../src/platforms/alipay';
import type { WxLikeApi, WxRequestOptions } from '../src/platforms/wxlike';
import type { Clock, LaunchOptions } from '../src/types';

type Options = Record<string, unknown>;
type Ctor = (options: Options) => unknown;

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 10, 20, 10, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.t + Math.max(ms, 0), fn });
    return this.seq;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, running every timer due on the way in time order (bounded: no endless loop). */
  advance(ms: number): void {
    const target = this.t + ms;
    for (let guard = 0; guard < 100_000; guard += 1) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) {
          next = entry;
        }
      }
      if (next === undefined) {
        this.t = target;
        return;
      }
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    throw new Error('advance: too many timers');
  }
}

/** Platform storage: per-key and total limits like WeChat's, and a switch to make every write fail. */
export class FakeStorage {
  readonly data = new Map<string, string>();
  full = false;
  writes = 0;

  constructor(private readonly perKeyBytes = 1024 * 1024) {}

  set(key: string, value: string): void {
    if (this.full) {
      throw new Error('setStorageSync:fail exceed storage max size 10MB');
    }
    if (Buffer.byteLength(value) > this.perKeyBytes) {
      throw new Error('setStorageSync:fail exceed storage item max length');
    }
    this.writes += 1;
    this.data.set(key, value);
  }
}

export interface Sent {
  url: string;
  headers: Record<string, string>;
  body: { sent_at: string; events: Array<Record<string, unknown>> };
  at: number;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | 'offline' | 'hang';

/** The network: every request is logged and answered by `handler` after `latencyMs` of fake time. */
export class FakeNetwork {
  readonly sent: Sent[] = [];
  latencyMs = 50;
  handler: (request: Sent) => Answer = () => ({ status: 200, body: { accepted: 0, rejected: [] } });

  constructor(private readonly clock: FakeClock) {}

  send(
    url: string,
    headers: Record<string, string>,
    data: string,
    ok: (status: number, headers: Record<string, string>, body: unknown) => void,
    fail: (message: string) => void,
  ): void {
    const request: Sent = { url, headers, body: JSON.parse(data) as Sent['body'], at: this.clock.now() };
    this.sent.push(request);
    const answer = this.handler(request);
    if (answer === 'hang') {
      return;
    }
    this.clock.setTimeout(() => {
      if (answer === 'offline') {
        fail('request:fail net::ERR_INTERNET_DISCONNECTED');
      } else {
        ok(answer.status, answer.headers ?? {}, answer.body ?? '');
      }
    }, this.latencyMs);
  }
}

export interface Launches {
  launch: LaunchOptions;
  enter?: LaunchOptions;
}

/** `wx`, `tt` and `swan` share this shape. */
export function fakeWxLike(storage: FakeStorage, network: FakeNetwork, launches: Launches): WxLikeApi {
  return {
    getStorageSync: (key) => storage.data.get(key) ?? '',
    setStorageSync: (key, data) => {
      storage.set(key, data);
    },
    removeStorageSync: (key) => {
      storage.data.delete(key);
    },
    request: (o: WxRequestOptions) => {
      network.send(o.url, o.header, o.data, (statusCode, header, data) => {
        o.success({ statusCode, header, data });
      }, (errMsg) => {
        o.fail({ errMsg });
      });
    },
    getLaunchOptionsSync: () => launches.launch,
    getEnterOptionsSync: () => launches.enter ?? launches.launch,
    getSystemInfoSync: () => ({ brand: 'Apple', model: 'iPhone 15', system: 'iOS 17.1', screenWidth: 393, screenHeight: 852 }),
  };
}

/** Alipay's `my`: `{key}` storage, `status` / `headers`, HTTP errors through `fail` with a status. */
export function fakeMy(storage: FakeStorage, network: FakeNetwork, launches: Launches): MyApi {
  return {
    getStorageSync: ({ key }) => ({ data: storage.data.get(key) }),
    setStorageSync: ({ key, data }) => {
      storage.set(key, data);
    },
    removeStorageSync: ({ key }) => storage.data.delete(key),
    request: (o) => {
      network.send(o.url, o.headers, o.data, (status, headers, data) => {
        if (status >= 200 && status < 300) {
          o.success({ status, headers, data });
        } else {
          o.fail({ error: 19, errorMessage: 'http status error', status, headers, data });
        }
      }, (errorMessage) => {
        o.fail({ error: 12, errorMessage });
      });
    },
    getLaunchOptionsSync: () => launches.launch,
    getSystemInfoSync: () => ({ brand: 'HUAWEI', model: 'P60', system: 'Android 13' }),
  };
}

/** The App / Page / Component globals, and the lifecycle the platform would drive. */
export class FakeHost implements Host {
  private ctors: Record<string, Ctor> = {};
  appOptions: Options | null = null;
  pages: Options[] = [];
  components: Options[] = [];

  constructor() {
    this.ctors.App = (options) => {
      this.appOptions = options;
    };
    this.ctors.Page = (options) => {
      this.pages.push(options);
    };
    this.ctors.Component = (options) => {
      this.components.push(options);
    };
  }

  get(name: 'App' | 'Page' | 'Component'): Ctor | undefined {
    return this.ctors[name];
  }

  set(name: 'App' | 'Page' | 'Component', ctor: Ctor): void {
    this.ctors[name] = ctor;
  }

  /** What app.js / page.js do: call the (wrapped) global. */
  App(options: Options): void {
    (this.ctors.App as Ctor)(options);
  }

  Page(options: Options): void {
    (this.ctors.Page as Ctor)(options);
  }

  Component(options: Options): void {
    (this.ctors.Component as Ctor)(options);
  }

  private call(target: Options | null, name: string, self: object, ...args: unknown[]): unknown {
    const fn = target?.[name];
    return typeof fn === 'function' ? (fn as (...a: unknown[]) => unknown).apply(self, args) : undefined;
  }

  show(options: LaunchOptions): void {
    this.call(this.appOptions, 'onShow', {}, options);
  }

  hide(): void {
    this.call(this.appOptions, 'onHide', {});
  }

  /** Opens the n-th registered page at `route` with `query`: onLoad then onShow. */
  openPage(index: number, route: string, query: Record<string, string> = {}): PageRun {
    const options = this.pages[index] ?? null;
    const self = { route };
    this.call(options, 'onLoad', self, query);
    this.call(options, 'onShow', self);
    return {
      share: (res = { from: 'menu' }) => this.call(options, 'onShareAppMessage', self, res),
      timeline: () => this.call(options, 'onShareTimeline', self),
      show: () => this.call(options, 'onShow', self),
    };
  }

  openComponentPage(index: number, route: string, query: Record<string, string> = {}): void {
    const methods = (this.components[index]?.methods ?? null) as Options | null;
    const self = { route };
    this.call(methods, 'onLoad', self, query);
    this.call(methods, 'onShow', self);
  }
}

export interface PageRun {
  share(res?: object): unknown;
  timeline(): unknown;
  show(): unknown;
}
