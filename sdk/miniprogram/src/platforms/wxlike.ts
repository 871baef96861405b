/**
 * WeChat (`wx`), Douyin (`tt`) and Baidu (`swan`): the same shape of storage and request API.
 *
 * Storage: one key holds at most 1 MB, all keys 10 MB (WeChat's wx.setStorageSync page; Douyin and Baidu
 * document the same limits). A `request` that fails before an HTTP answer calls `fail` with `errMsg`.
 */

import type { HttpResponse, LaunchOptions, PlatformName, PlatformPort, RequestResult } from '../types';
import { deviceOf, safely, type SystemInfo } from './device';

export const WX_MAX_ITEM_BYTES = 900_000; // 1 MB per key, with room for the platform's own encoding

export interface WxRequestOptions {
  url: string;
  method: 'POST';
  data: string;
  header: Record<string, string>;
  timeout: number;
  dataType: 'json';
  success: (res: { statusCode: number; header?: object; data?: unknown }) => void;
  fail: (err: { errMsg?: string }) => void;
}

export interface WxLikeApi {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: string): void;
  removeStorageSync(key: string): void;
  request(options: WxRequestOptions): unknown;
  getLaunchOptionsSync?: () => LaunchOptions;
  getEnterOptionsSync?: () => LaunchOptions;
  getSystemInfoSync?: () => SystemInfo;
  getDeviceInfo?: () => SystemInfo;
  getWindowInfo?: () => SystemInfo;
}

export function headersOf(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw !== null && typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      out[key] = String(value);
    }
  }
  return out;
}

export function wxLikePort(name: PlatformName, api: WxLikeApi, maxItemBytes = WX_MAX_ITEM_BYTES): PlatformPort {
  return {
    name,
    maxItemBytes,
    getItem(key) {
      const value = safely(() => api.getStorageSync(key));
      return typeof value === 'string' && value !== '' ? value : null;
    },
    setItem(key, value) {
      api.setStorageSync(key, value);
    },
    removeItem(key) {
      safely(() => {
        api.removeStorageSync(key);
      });
    },
    request(request, done: (result: RequestResult) => void) {
      api.request({
        url: request.url,
        method: 'POST',
        data: request.body,
        header: request.headers,
        timeout: request.timeoutMs,
        dataType: 'json',
        success(res) {
          const response: HttpResponse = { status: res.statusCode, headers: headersOf(res.header), body: res.data };
          done({ ok: true, response });
        },
        fail(err) {
          done({ ok: false, error: String(err.errMsg ?? 'request failed').slice(0, 200) });
        },
      });
    },
    launchOptions: () => safely(api.getLaunchOptionsSync),
    enterOptions: () => safely(api.getEnterOptionsSync),
    // getSystemInfoSync is deprecated where getDeviceInfo + getWindowInfo exist (WeChat base library 2.20.1+).
    device: () => {
      const info = safely(api.getDeviceInfo);
      return deviceOf(info === null ? safely(api.getSystemInfoSync) : { ...info, ...safely(api.getWindowInfo) });
    },
  };
}
