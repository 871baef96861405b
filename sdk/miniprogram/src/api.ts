/**
 * The public API: one client per mini-program, made by `init`. Every call before `init` (or for a platform
 * whose adapter is not in this bundle) is a no-op that says so once, never an exception in the app.
 */

import { AutoTracker, type Host } from './autotrack';
import { Client, type Env, type IdentifyInput, type OrderInput, type RefundInput } from './client';
import { consoleLogger, globalHost, systemClock } from './globals';
import type { AutoTrack, InitOptions, PlatformName, PlatformPort, Properties, Settings } from './types';

const registry: Partial<Record<PlatformName, () => PlatformPort | null>> = {};
let current: { client: Client; tracker: AutoTracker } | null = null;
let warnedUninitialised = false;

/** Makes a platform available to `init` (each entry point registers the adapters its bundle carries). */
export function registerPlatform(name: PlatformName, factory: () => PlatformPort | null): void {
  registry[name] = factory;
}

function bounded(value: number | undefined, fallback: number, min: number, max: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(Math.max(Math.floor(value), min), max) : fallback;
}

export function settingsOf(options: InitOptions): Settings {
  const all = options.autoTrack !== false;
  const partial: Partial<AutoTrack> = typeof options.autoTrack === 'object' ? options.autoTrack : {};
  return {
    endpoint: options.endpoint,
    writeKey: options.writeKey,
    platform: options.platform,
    flushIntervalMs: bounded(options.flushIntervalMs, 5_000, 100, 600_000),
    // The collector takes at most 2,500 events and 500 KB per request; 500 events stays well inside.
    maxBatch: bounded(options.maxBatch, 50, 1, 500),
    maxQueue: bounded(options.maxQueue, 1_000, 1, 100_000),
    autoTrack: {
      enter: all && partial.enter !== false,
      pageView: all && partial.pageView !== false,
      share: all && partial.share !== false,
    },
    appVersion: options.appVersion,
    requireConsent: options.requireConsent === true,
    debug: options.debug === true,
    requestTimeoutMs: bounded(options.requestTimeoutMs, 10_000, 1_000, 60_000),
  };
}

/** Builds a client on an explicit environment: what `init` does with the real platform, open for tests. */
export function createClient(options: InitOptions, env: Env, host: Host | null): { client: Client; tracker: AutoTracker } {
  const settings = settingsOf(options);
  const client = new Client(settings, env);
  const tracker = new AutoTracker(client, env.port, settings.autoTrack, env.logger);
  if (host !== null) {
    tracker.install(host);
  }
  return { client, tracker };
}

/** Call once, before `App()`, so that the app's lifecycle is wrapped. */
export function init(options: InitOptions): void {
  const logger = consoleLogger(options.debug === true);
  if (current !== null) {
    logger.warn('init was called twice; the second call is ignored');
    return;
  }
  if (typeof options.endpoint !== 'string' || !/^https?:\/\//.test(options.endpoint) || !options.writeKey) {
    logger.warn('init needs an http(s) endpoint and a write key; nothing will be sent');
    return;
  }
  const port = registry[options.platform]?.() ?? null;
  if (port === null) {
    logger.warn(`platform ${String(options.platform)} is not available in this bundle or runtime`);
    return;
  }
  current = createClient(options, { port, clock: systemClock, random: Math.random, logger }, globalHost);
}

function client(): Client | null {
  if (current === null && !warnedUninitialised) {
    warnedUninitialised = true;
    consoleLogger(false).warn('call init() first: events before it are not recorded');
  }
  return current?.client ?? null;
}

export function track(name: string, properties?: Properties): string | null {
  return client()?.track(name, properties) ?? null;
}

export function identify(input: IdentifyInput): string | null {
  return client()?.identify(input) ?? null;
}

export function order(input: OrderInput): string | null {
  return client()?.order(input) ?? null;
}

export function refund(input: RefundInput): string | null {
  return client()?.refund(input) ?? null;
}

export function register(properties?: Properties): string | null {
  return client()?.track('register', properties) ?? null;
}

export function activate(properties?: Properties): string | null {
  return client()?.track('activate', properties) ?? null;
}

export function flush(): void {
  client()?.flush();
}

export function optOut(): void {
  client()?.optOut();
}

export function optIn(): void {
  const c = client();
  if (c !== null && c.isOptedOut()) {
    c.optIn();
    current?.tracker.consented();
  }
}

export function reset(): void {
  client()?.reset();
}

export type { IdentifyInput, InitOptions, OrderInput, PlatformName, Properties, RefundInput };
