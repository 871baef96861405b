/**
 * The platform's globals as the running mini-program has them. Module-scoped declarations: the bundle refers
 * to the real globals by name, and nothing here is evaluated until `init` asks for one platform.
 */

import type { Host } from './autotrack';
import type { MyApi } from './platforms/alipay';
import type { WxLikeApi } from './platforms/wxlike';
import type { Clock, Logger } from './types';

type Ctor = (options: Record<string, unknown>) => unknown;

declare const wx: WxLikeApi | undefined;
declare const tt: WxLikeApi | undefined;
declare const swan: WxLikeApi | undefined;
declare const my: MyApi | undefined;
declare let App: Ctor | undefined;
declare let Page: Ctor | undefined;
declare let Component: Ctor | undefined;

export function wxApi(): WxLikeApi | undefined {
  return typeof wx === 'undefined' ? undefined : wx;
}

export function ttApi(): WxLikeApi | undefined {
  return typeof tt === 'undefined' ? undefined : tt;
}

export function swanApi(): WxLikeApi | undefined {
  return typeof swan === 'undefined' ? undefined : swan;
}

export function myApi(): MyApi | undefined {
  return typeof my === 'undefined' ? undefined : my;
}

export const globalHost: Host = {
  get(name) {
    if (name === 'App') return typeof App === 'function' ? App : undefined;
    if (name === 'Page') return typeof Page === 'function' ? Page : undefined;
    return typeof Component === 'function' ? Component : undefined;
  },
  set(name, ctor) {
    if (name === 'App') App = ctor;
    else if (name === 'Page') Page = ctor;
    else Component = ctor;
  },
};

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as never);
  },
};

export function consoleLogger(debug: boolean): Logger {
  return {
    warn(message) {
      console.warn(`[touchstream] ${message}`);
    },
    debug(message) {
      if (debug) {
        console.log(`[touchstream] ${message}`);
      }
    },
  };
}
