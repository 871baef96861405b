/** The shapes shared by the SDK's modules: options, the wire format of an event, and the platform port. */

export type PlatformName = 'wechat' | 'alipay' | 'douyin' | 'baidu';

export interface AutoTrack {
  /** `enter` on cold start and on hot starts whose scene, query or path changed. */
  enter: boolean;
  /** `page_view` on every `Page.onShow`. */
  pageView: boolean;
  /** `share` on `onShareAppMessage` / `onShareTimeline`, and the share path amended with the sharer. */
  share: boolean;
}

export interface InitOptions {
  /** The collector's base URL, e.g. `https://collect.example.com` (its host must be a whitelisted request domain). */
  endpoint: string;
  /** The app's write key (public by design: it names the app, it is not a secret). */
  writeKey: string;
  platform: PlatformName;
  flushIntervalMs?: number;
  maxBatch?: number;
  maxQueue?: number;
  autoTrack?: boolean | Partial<AutoTrack>;
  /** Version of the mini-program itself, sent as `context.app_version`. */
  appVersion?: string;
  /** Start opted out until `optIn()` (consent first); a choice already stored on the device wins. */
  requireConsent?: boolean;
  /** Log rejected events and storage problems to the console. */
  debug?: boolean;
  requestTimeoutMs?: number;
}

export interface Settings {
  endpoint: string;
  writeKey: string;
  platform: PlatformName;
  flushIntervalMs: number;
  maxBatch: number;
  maxQueue: number;
  autoTrack: AutoTrack;
  appVersion: string | undefined;
  requireConsent: boolean;
  debug: boolean;
  requestTimeoutMs: number;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Properties = Record<string, unknown>;

export interface ShareInfo {
  from: string;
  depth: number;
}

export interface Campaign {
  source?: string;
  medium?: string;
  name?: string;
  content?: string;
  term?: string;
}

export interface Device {
  brand?: string;
  model?: string;
  os?: string;
  os_version?: string;
  screen_width?: number;
  screen_height?: number;
}

/** `context` of an event as schemas/context.py defines it (only what the SDK sends). */
export interface WireContext {
  platform: PlatformName;
  sdk: { name: string; version: string };
  device_seq: number;
  app_version?: string;
  scene?: number | string;
  path?: string;
  query?: Record<string, string>;
  campaign?: Campaign;
  share?: ShareInfo;
  device?: Device;
  network?: string;
}

/** One event as sent in `events` of `POST /v1/batch` (schemas/events.py). */
export interface WireEvent {
  event_id: string;
  type: string;
  timestamp: string;
  anonymous_id: string;
  user_id?: string;
  openid?: string;
  unionid?: string;
  name?: string;
  phone?: string;
  share_id?: string;
  method?: string;
  properties?: Properties;
  traits?: Properties;
  context: WireContext;
}

/** What `onLaunch` / `onShow` / `getEnterOptionsSync` hand over, on every platform. */
export interface LaunchOptions {
  scene?: unknown;
  query?: unknown;
  path?: unknown;
  referrerInfo?: unknown;
}

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type RequestResult = { ok: true; response: HttpResponse } | { ok: false; error: string };

/** What the SDK needs from `wx` / `my` / `tt` / `swan`: src/platforms/ adapts each one to this. */
export interface PlatformPort {
  readonly name: PlatformName;
  /** Largest value one storage key may hold, in UTF-8 bytes, with a margin below the platform's limit. */
  readonly maxItemBytes: number;
  /** The stored text, or null when absent or unreadable. */
  getItem(key: string): string | null;
  /** Throws when the platform refuses (storage full). */
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  request(request: HttpRequest, done: (result: RequestResult) => void): void;
  launchOptions(): LaunchOptions | null;
  /** The options of the current (hot) start where the base library has them. */
  enterOptions(): LaunchOptions | null;
  device(): Device | null;
}

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Logger {
  warn(message: string): void;
  debug(message: string): void;
}
