/**
 * Alipay (`my`): storage takes `{key, data}` objects and one key holds at most 200 KB; `my.request` names the
 * status `status` and the headers `headers`, and reports an HTTP error status through `fail` (with `status`).
 */

import type { HttpResponse, LaunchOptions, PlatformPort } from '../types';
import { deviceOf, safely, type SystemInfo } from './device';
import { headersOf } from './wxlike';

export const MY_MAX_ITEM_BYTES = 180_000;

interface MyResponse {
  status?: number;
  headers?: object;
  data?: unknown;
}

export interface MyRequestOptions {
  url: string;
  method: 'POST';
  data: string;
  headers: Record<string, string>;
  timeout: number;
  dataType: 'json';
  success: (res: MyResponse) => void;
  fail: (err: MyResponse & { error?: number; errorMessage?: string }) => void;
}

export interface MyApi {
  getStorageSync(options: { key: string }): { data?: unknown } | undefined;
  setStorageSync(options: { key: string; data: string }): unknown;
  removeStorageSync(options: { key: string }): unknown;
  request(options: MyRequestOptions): unknown;
  getLaunchOptionsSync?: () => LaunchOptions;
  getEnterOptionsSync?: () => LaunchOptions;
  getSystemInfoSync?: () => SystemInfo;
}

export function alipayPort(api: MyApi): PlatformPort {
  return {
    name: 'alipay',
    maxItemBytes: MY_MAX_ITEM_BYTES,
    getItem(key) {
      const value = safely(() => api.getStorageSync({ key }))?.data;
      return typeof value === 'string' && value !== '' ? value : null;
    },
    setItem(key, value) {
      const result = api.setStorageSync({ key, data: value }) as { error?: unknown; errorMessage?: unknown } | undefined;
      if (result !== undefined && result !== null && result.error !== undefined) {
        throw new Error(`setStorageSync failed: ${String(result.errorMessage ?? result.error)}`);
      }
    },
    removeItem(key) {
      safely(() => api.removeStorageSync({ key }));
    },
    request(request, done) {
      const answer = (res: MyResponse): HttpResponse => ({
        status: res.status ?? 0,
        headers: headersOf(res.headers),
        body: res.data,
      });
      api.request({
        url: request.url,
        method: 'POST',
        data: request.body,
        headers: request.headers,
        timeout: request.timeoutMs,
        dataType: 'json',
        success(res) {
          done({ ok: true, response: answer(res) });
        },
        fail(err) {
          if (typeof err.status === 'number' && err.status > 0) {
            done({ ok: true, response: answer(err) });
          } else {
            done({ ok: false, error: String(err.errorMessage ?? err.error ?? 'request failed').slice(0, 200) });
          }
        },
      });
    },
    launchOptions: () => safely(api.getLaunchOptionsSync),
    enterOptions: () => safely(api.getEnterOptionsSync),
    device: () => deviceOf(safely(api.getSystemInfoSync)),
  };
}
