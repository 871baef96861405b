/**
 * Launch options → the `enter` event's context: scene, query, path, campaign, share, referrer. Pure.
 *
 * Every value is bounded to what the collector accepts (schemas/context.py), because one field over a limit
 * would cost the whole event: an `enter` lost is a visit with no channel.
 */

import type { Campaign, LaunchOptions, PlatformName, ShareInfo } from './types';

export const MAX_QUERY_KEYS = 64;
export const MAX_QUERY_KEY_CHARS = 64;
export const MAX_QUERY_VALUE_CHARS = 1024;
export const MAX_PATH_CHARS = 512;
const MAX_CAMPAIGN_CHARS = 256;
const MAX_SHARER_CHARS = 128;
const MAX_SHARE_DEPTH = 100;

/** The query keys the SDK writes into a shared path and reads back on the visit it brings. */
export const SHARE_FROM = 'share_from';
export const SHARE_DEPTH = 'share_depth';
export const SHARE_ID = 'share_id';

/** Query parameters that carry an encoded payload: a mini-program code's `scene`, a plain QR code's `q` URL. */
const ENCODED_PARAMS = ['scene', 'q'];

const UTM: ReadonlyArray<[string, keyof Campaign]> = [
  ['utm_source', 'source'],
  ['utm_medium', 'medium'],
  ['utm_campaign', 'name'],
  ['utm_content', 'content'],
  ['utm_term', 'term'],
];

const SCENE_RULES: Record<Exclude<PlatformName, 'wechat'>, RegExp> = {
  alipay: /^[0-9]{4}$/,
  douyin: /^[0-9]{6}$/,
  baidu: /^([0-9]{8}|NA|WEB)$/,
};

export interface Launch {
  scene?: number | string;
  /** The platform's scene when it breaks the platform's rule: kept as a property, never as `context.scene`. */
  sceneRaw?: string;
  query: Record<string, string>;
  path?: string;
  referrerAppId?: string;
  campaign?: Campaign;
  share?: ShareInfo;
}

/**
 * The scene as the collector accepts it for `platform`, or undefined. WeChat's is an integer; the others are
 * text whose leading zeros matter (Douyin `021001`), so a number there is not guessed back into text.
 */
export function normaliseScene(platform: PlatformName, value: unknown): number | string | undefined {
  if (platform === 'wechat') {
    const n = typeof value === 'string' && /^[1-9][0-9]{3}$/.test(value) ? Number(value) : value;
    return typeof n === 'number' && Number.isInteger(n) && n >= 1000 && n <= 9999 ? n : undefined;
  }
  return typeof value === 'string' && SCENE_RULES[platform].test(value) ? value : undefined;
}

/** `decodeURIComponent` that never throws: a malformed escape keeps the text as it came. */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A launch query as string → string within the collector's limits; `scene` / `q` decoded once. */
export function cleanQuery(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== 'object') {
    return out;
  }
  let kept = 0;
  for (const key of Object.keys(raw)) {
    if (kept >= MAX_QUERY_KEYS) {
      break;
    }
    const value = (raw as Record<string, unknown>)[key];
    if (key.length === 0 || key.length > MAX_QUERY_KEY_CHARS || value === undefined || value === null) {
      continue;
    }
    let text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (ENCODED_PARAMS.indexOf(key) >= 0) {
      text = safeDecode(text);
    }
    out[key] = text.slice(0, MAX_QUERY_VALUE_CHARS);
    kept += 1;
  }
  return out;
}

function clip(value: string | undefined, max: number): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const trimmed = value.trim().slice(0, max);
  return trimmed.length > 0 ? trimmed : undefined;
}

/** The share chain a visit arrived through, from the parameters `amendSharePath` wrote. */
export function shareOf(query: Record<string, string>): ShareInfo | undefined {
  const raw = query[SHARE_FROM];
  const from = clip(raw === undefined ? undefined : safeDecode(raw), MAX_SHARER_CHARS);
  if (from === undefined) {
    return undefined;
  }
  const depth = Number(query[SHARE_DEPTH]);
  const bounded = Number.isInteger(depth) && depth >= 1 ? Math.min(depth, MAX_SHARE_DEPTH) : 1;
  return { from, depth: bounded };
}

export function campaignOf(query: Record<string, string>): Campaign | undefined {
  const campaign: Campaign = {};
  let any = false;
  for (const [param, field] of UTM) {
    const value = clip(query[param], MAX_CAMPAIGN_CHARS);
    if (value !== undefined) {
      campaign[field] = value;
      any = true;
    }
  }
  return any ? campaign : undefined;
}

export function readLaunch(platform: PlatformName, options: LaunchOptions | null | undefined): Launch {
  const opts = options ?? {};
  const query = cleanQuery(opts.query);
  const launch: Launch = { query };
  const scene = normaliseScene(platform, opts.scene);
  if (scene !== undefined) {
    launch.scene = scene;
  } else if (opts.scene !== undefined && opts.scene !== null && opts.scene !== '') {
    launch.sceneRaw = String(opts.scene).slice(0, 64);
  }
  if (typeof opts.path === 'string' && opts.path.length > 0) {
    launch.path = opts.path.slice(0, MAX_PATH_CHARS);
  }
  const referrer = opts.referrerInfo;
  if (referrer !== null && typeof referrer === 'object') {
    const appId = (referrer as Record<string, unknown>).appId;
    if (typeof appId === 'string' && appId.length > 0) {
      launch.referrerAppId = appId.slice(0, 128);
    }
  }
  const campaign = campaignOf(query);
  if (campaign !== undefined) {
    launch.campaign = campaign;
  }
  const share = shareOf(query);
  if (share !== undefined) {
    launch.share = share;
  }
  return launch;
}

/** What decides whether a hot start is a new visit: the scene, the query and the path. */
export function launchKey(launch: Launch): string {
  const keys = Object.keys(launch.query).sort();
  const query = keys.map((k) => `${k}=${launch.query[k] ?? ''}`).join('&');
  return `${String(launch.scene ?? launch.sceneRaw ?? '')}|${launch.path ?? ''}|${query}`;
}
