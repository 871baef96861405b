/**
 * The share chain: a shared path or timeline query gets the sharer's id, the depth one more than the sharer's
 * own, and the share's id, so the visit it brings carries `context.share` and can be traced to this share. Pure.
 */

import { SHARE_DEPTH, SHARE_FROM, SHARE_ID, safeDecode } from './launch';

export interface ShareMark {
  from: string;
  depth: number;
  shareId: string;
}

const OWN_KEYS = [SHARE_FROM, SHARE_DEPTH, SHARE_ID];

/** `a=1&b=2` with our keys replaced (a re-share must not carry the previous sharer twice). */
export function amendQueryString(query: string, mark: ShareMark): string {
  const kept = query
    .split('&')
    .filter((pair) => pair.length > 0 && OWN_KEYS.indexOf(safeDecode(pair.split('=')[0] ?? '')) < 0);
  kept.push(
    `${SHARE_FROM}=${encodeURIComponent(mark.from)}`,
    `${SHARE_DEPTH}=${String(mark.depth)}`,
    `${SHARE_ID}=${encodeURIComponent(mark.shareId)}`,
  );
  return kept.join('&');
}

/** `pages/a/b?x=1` → `pages/a/b?x=1&share_from=…&share_depth=…&share_id=…`. */
export function amendSharePath(path: string, mark: ShareMark): string {
  const hash = path.indexOf('#');
  const fragment = hash >= 0 ? path.slice(hash) : '';
  const bare = hash >= 0 ? path.slice(0, hash) : path;
  const q = bare.indexOf('?');
  const base = q >= 0 ? bare.slice(0, q) : bare;
  const query = q >= 0 ? bare.slice(q + 1) : '';
  return `${base}?${amendQueryString(query, mark)}${fragment}`;
}
