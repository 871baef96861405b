/** Wiring the SDK onto the fake platform, and a fake collector that keeps a ledger of what it accepted. */

import { createClient } from '../src/api';
import type { AutoTracker } from '../src/autotrack';
import type { Client } from '../src/client';
import { alipayPort } from '../src/platforms/alipay';
import { wxLikePort } from '../src/platforms/wxlike';
import type { Clock, InitOptions, PlatformName, PlatformPort } from '../src/types';
import { type Answer, FakeClock, FakeHost, FakeNetwork, FakeStorage, fakeMy, fakeWxLike, type Launches, type Sent } from './fake';

export type Ev = Record<string, unknown> & { event_id: string; type: string; context: Record<string, unknown> };

export interface World {
  clock: FakeClock;
  storage: FakeStorage;
  network: FakeNetwork;
  launches: Launches;
  warnings: string[];
}

export function world(): World {
  const clock = new FakeClock();
  return { clock, storage: new FakeStorage(), network: new FakeNetwork(clock), launches: { launch: {} }, warnings: [] };
}

export interface Sdk {
  client: Client;
  tracker: AutoTracker;
  host: FakeHost;
  /** The process dies: its timers never fire, its answers never arrive, it writes nothing more. */
  kill(): void;
}

/** One process's view of the platform and the clock, so that a killed one stays dead. */
function mortal(port: PlatformPort, clock: Clock, life: { dead: boolean }): { port: PlatformPort; clock: Clock } {
  return {
    port: {
      ...port,
      setItem: (key, value) => {
        if (!life.dead) port.setItem(key, value);
      },
      request: (request, done) => {
        port.request(request, (result) => {
          if (!life.dead) done(result);
        });
      },
    },
    clock: {
      now: () => clock.now(),
      setTimeout: (fn, ms) =>
        clock.setTimeout(() => {
          if (!life.dead) fn();
        }, ms),
      clearTimeout: (handle) => {
        clock.clearTimeout(handle);
      },
    },
  };
}

/** Seeded randomness, so that ids differ between devices of one test but runs repeat. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export function portOf(platform: PlatformName, w: World): PlatformPort {
  if (platform === 'alipay') {
    return alipayPort(fakeMy(w.storage, w.network, w.launches));
  }
  return wxLikePort(platform, fakeWxLike(w.storage, w.network, w.launches));
}

/** A launch of the mini-program: the SDK initialised before `App()`, as docs/sdk.md says. */
export function start(w: World, options: Partial<InitOptions> = {}, seed = 1): Sdk {
  const platform = options.platform ?? 'wechat';
  const host = new FakeHost();
  const life = { dead: false };
  const { port, clock } = mortal(portOf(platform, w), w.clock, life);
  const { client, tracker } = createClient(
    { endpoint: 'https://collect.example.com', writeKey: 'wk_test_0123456789', platform, ...options },
    {
      port,
      clock,
      random: seeded(seed),
      logger: { warn: (m) => w.warnings.push(m), debug: () => undefined },
    },
    host,
  );
  host.App({});
  host.Page({ onShareAppMessage: () => ({ title: 'look' }), onShareTimeline: () => ({ title: 'look' }) });
  return {
    client,
    tracker,
    host,
    kill: () => {
      life.dead = true;
    },
  };
}

/** A collector: answers 200 with per-event rejections, and records every accepted event once per arrival. */
export class Collector {
  readonly accepted: Ev[] = [];
  reject: (event: Ev) => string | null = () => null;

  handle = (request: Sent): Answer => {
    const rejected: Array<{ index: number; code: string; reason: string }> = [];
    request.body.events.forEach((raw, index) => {
      const event = raw as Ev;
      const reason = this.reject(event);
      if (reason === null) {
        this.accepted.push(event);
      } else {
        rejected.push({ index, code: 'invalid', reason });
      }
    });
    return { status: 200, body: { accepted: request.body.events.length - rejected.length, rejected } };
  };

  ids(): string[] {
    return this.accepted.map((e) => e.event_id);
  }

  ofType(type: string): Ev[] {
    return this.accepted.filter((e) => e.type === type);
  }
}

export function ledgerOf(ids: Array<string | null>): string[] {
  return ids.filter((id): id is string => id !== null);
}
