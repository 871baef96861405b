/**
 * Auto-capture by wrapping the platform's `App`, `Page` and `Component` constructors: `enter` on cold start
 * and on every hot start whose scene, query or path changed, `page_view` on `onShow`, `share` on
 * `onShareAppMessage` / `onShareTimeline` with the shared path amended (share.ts), a flush on `App.onHide`.
 *
 * A wrapper calls the app's own handler first and never lets an SDK failure reach the app.
 */

import type { Client } from './client';
import { cleanQuery, type Launch, launchKey, readLaunch } from './launch';
import { amendQueryString, amendSharePath } from './share';
import type { AutoTrack, LaunchOptions, Logger, PlatformPort } from './types';

type Options = Record<string, unknown>;
type Handler = (this: Instance, ...args: unknown[]) => unknown;
type Ctor = (options: Options) => unknown;

/** A page (or page component) instance: the platforms expose its path as `route`. */
interface Instance {
  route?: unknown;
  __touchstreamQuery?: Record<string, string>;
}

/** Reads and replaces the global `App` / `Page` / `Component` (injected in tests). */
export interface Host {
  get(name: 'App' | 'Page' | 'Component'): Ctor | undefined;
  set(name: 'App' | 'Page' | 'Component', ctor: Ctor): void;
}

export class AutoTracker {
  private lastKey: string | null = null;
  private lastLaunch: Launch | null = null;

  constructor(
    private readonly client: Client,
    private readonly port: PlatformPort,
    private readonly auto: AutoTrack,
    private readonly logger: Logger,
  ) {}

  install(host: Host): void {
    const app = host.get('App');
    if (app !== undefined) {
      host.set('App', (options) => app(this.wrapApp(options)));
    }
    const page = host.get('Page');
    if (page !== undefined) {
      host.set('Page', (options) => page(this.wrapPage(options)));
    }
    const component = host.get('Component');
    if (component !== undefined) {
      host.set('Component', (options) => {
        const methods = (options.methods ?? {}) as Options;
        return component({ ...options, methods: this.wrapPage(methods) });
      });
    }
  }

  /** The app came to the foreground with these options (App.onShow). */
  shown(options: unknown): void {
    const opts = hasScene(options) ? options : (this.port.enterOptions() ?? this.port.launchOptions());
    const launch = readLaunch(this.client.settings.platform, opts);
    const key = launchKey(launch);
    const start = this.lastKey === null ? 'cold' : 'hot';
    if (key !== this.lastKey && this.auto.enter) {
      this.client.enter(launch, start);
    }
    this.lastKey = key;
    this.lastLaunch = launch;
  }

  /** After consent is given: the visit that was not recorded while opted out. */
  consented(): void {
    if (this.lastLaunch !== null && this.auto.enter) {
      this.client.enter(this.lastLaunch, 'hot');
    }
  }

  private wrapApp(options: Options): Options {
    return {
      ...options,
      onShow: this.around(options.onShow, (_self, args) => {
        this.shown(args[0]);
      }),
      onHide: this.around(options.onHide, () => {
        this.client.flush();
      }),
    };
  }

  private wrapPage(options: Options): Options {
    const wrapped: Options = {
      ...options,
      onLoad: this.around(options.onLoad, (self, args) => {
        self.__touchstreamQuery = cleanQuery(args[0]);
      }),
      onShow: this.around(options.onShow, (self) => {
        const path = routeOf(self);
        if (path !== undefined && this.auto.pageView) {
          this.client.pageView(path, self.__touchstreamQuery ?? {});
        } else if (path !== undefined) {
          this.client.setPage(path);
        }
      }),
    };
    // Only where the page defines them: defining one is what turns the platform's share menu on.
    if (typeof options.onShareAppMessage === 'function' && this.auto.share) {
      wrapped.onShareAppMessage = this.amend(options.onShareAppMessage as Handler, 'chat');
    }
    if (typeof options.onShareTimeline === 'function' && this.auto.share) {
      wrapped.onShareTimeline = this.amend(options.onShareTimeline as Handler, 'timeline');
    }
    return wrapped;
  }

  /** The app's handler, then ours; our failure is logged, the app's result returned as it was. */
  private around(original: unknown, after: (self: Instance, args: unknown[]) => void): Handler {
    const logger = this.logger;
    return function (this: Instance, ...args: unknown[]): unknown {
      const result = typeof original === 'function' ? (original as Handler).apply(this, args) : undefined;
      try {
        after(this, args);
      } catch (error) {
        logger.debug(`auto-capture failed: ${String(error)}`);
      }
      return result;
    };
  }

  private amend(original: Handler, method: 'chat' | 'timeline'): Handler {
    const tracker = this;
    return function (this: Instance, ...args: unknown[]): unknown {
      const result = original.apply(this, args);
      try {
        return tracker.amended(this, result, method);
      } catch (error) {
        tracker.logger.debug(`share capture failed: ${String(error)}`);
        return result;
      }
    };
  }

  private amended(self: Instance, result: unknown, method: 'chat' | 'timeline'): unknown {
    const content: Options = result !== null && typeof result === 'object' ? { ...(result as Options) } : {};
    const query = queryString(self.__touchstreamQuery ?? {});
    if (method === 'timeline') {
      const shared = typeof content.query === 'string' ? content.query : query;
      const mark = this.client.share(method, `${routeOf(self) ?? ''}?${shared}`);
      if (mark !== null) {
        content.query = amendQueryString(shared, mark);
      }
      return content;
    }
    const own = routeOf(self);
    const fallback = own === undefined ? undefined : `/${own.replace(/^\//, '')}${query === '' ? '' : `?${query}`}`;
    const shared = typeof content.path === 'string' ? content.path : fallback;
    if (shared === undefined) {
      return result;
    }
    const mark = this.client.share(method, shared);
    if (mark !== null) {
      content.path = amendSharePath(shared, mark);
    }
    return content;
  }
}

function hasScene(options: unknown): options is LaunchOptions {
  return options !== null && typeof options === 'object' && (options as LaunchOptions).scene !== undefined;
}

function routeOf(self: Instance): string | undefined {
  return typeof self.route === 'string' && self.route.length > 0 ? self.route.slice(0, 512) : undefined;
}

function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(query[k] ?? '')}`)
    .join('&');
}
