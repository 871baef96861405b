/** The device as `getSystemInfoSync` / `getDeviceInfo` describe it, bounded to schemas/context.py's limits. */

import type { Device } from '../types';

export interface SystemInfo {
  brand?: unknown;
  model?: unknown;
  system?: unknown;
  screenWidth?: unknown;
  screenHeight?: unknown;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, 64) : undefined;
}

function pixels(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100_000 ? value : undefined;
}

export function deviceOf(info: SystemInfo | null | undefined): Device | null {
  if (info === null || info === undefined || typeof info !== 'object') {
    return null;
  }
  const device: Device = {};
  const brand = text(info.brand);
  const model = text(info.model);
  // `system` is "iOS 17.1" / "Android 14": the OS, then its version.
  const system = typeof info.system === 'string' ? info.system.trim() : '';
  const space = system.indexOf(' ');
  const os = text(space > 0 ? system.slice(0, space) : system);
  const osVersion = text(space > 0 ? system.slice(space + 1) : undefined);
  const width = pixels(info.screenWidth);
  const height = pixels(info.screenHeight);
  if (brand !== undefined) device.brand = brand;
  if (model !== undefined) device.model = model;
  if (os !== undefined) device.os = os;
  if (osVersion !== undefined) device.os_version = osVersion;
  if (width !== undefined) device.screen_width = width;
  if (height !== undefined) device.screen_height = height;
  return Object.keys(device).length > 0 ? device : null;
}

/** Calls an optional sync API; a platform that throws (or lacks it) yields null. */
export function safely<T>(call: (() => T) | undefined): T | null {
  if (call === undefined) {
    return null;
  }
  try {
    return call();
  } catch {
    return null;
  }
}
