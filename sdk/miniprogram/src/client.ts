/**
 * The client: ids, consent, and turning calls into events for delivery.
 *
 * Stored on the device (never while opted out): the queue (delivery.ts), `touchstream_ids` (anonymous id,
 * the per-device sequence number, the ids given to `identify`) and `touchstream_consent` (`in` / `out`).
 */

import { Delivery } from './delivery';
import type { Launch } from './launch';
import { itemOf } from './queue';
import type { ShareMark } from './share';
import type { Clock, Device, Logger, PlatformPort, Properties, Settings, WireContext, WireEvent } from './types';
import { uuid4 } from './uuid';

export const SDK_NAME = 'touchstream-miniprogram';
export const SDK_VERSION = '0.1.0';
export const IDS_KEY = 'touchstream_ids';
export const CONSENT_KEY = 'touchstream_consent';
export const DROP_REPORT_NAME = 'sdk_events_dropped';

/** Types sent as themselves by `track`; any other name is a `custom` event with that name. */
const PLAIN_TYPES = ['exposure', 'click', 'enter', 'register', 'activate', 'page_view', 'share', 'convert', 'repurchase', 'refund'];

export interface Env {
  port: PlatformPort;
  clock: Clock;
  random: () => number;
  logger: Logger;
}

interface Ids {
  anonymous_id: string;
  seq: number;
  user_id?: string;
  openid?: string;
  unionid?: string;
}

export interface IdentifyInput {
  userId?: string;
  openid?: string;
  unionid?: string;
  /** Hashed by the collector before anything is stored; never kept by the SDK beyond the queued event. */
  phone?: string;
  traits?: Properties;
}

export interface OrderInput {
  orderId: string;
  /** A number or a decimal string with at most 2 decimals, e.g. `19.9` or `"19.90"`. */
  revenue: number | string;
  currency?: string;
  properties?: Properties;
}

export interface RefundInput {
  orderId: string;
  amount: number | string;
  currency?: string;
  reason?: string;
  properties?: Properties;
}

type Extra = Partial<Pick<WireEvent, 'name' | 'phone' | 'share_id' | 'method' | 'traits'>>;

export class Client {
  readonly delivery: Delivery;
  private ids: Ids;
  private optedOut: boolean;
  private readonly device: Device | null;
  private page: string | undefined;
  private arrivalDepth = 0;

  constructor(
    readonly settings: Settings,
    private readonly env: Env,
  ) {
    this.delivery = new Delivery(settings, {
      port: env.port,
      clock: env.clock,
      logger: env.logger,
      dropReport: (count) => this.encode('custom', { dropped_events: count }, { name: DROP_REPORT_NAME }),
    });
    const consent = env.port.getItem(CONSENT_KEY);
    this.optedOut = consent === 'out' || (consent === null && settings.requireConsent);
    this.device = env.port.device();
    this.ids = this.optedOut ? this.freshIds() : this.loadIds();
    if (this.optedOut) {
      this.delivery.discard();
    } else {
      this.delivery.restore();
    }
  }

  isOptedOut(): boolean {
    return this.optedOut;
  }

  anonymousId(): string {
    return this.ids.anonymous_id;
  }

  /** `track('add_to_cart', {...})` sends a `custom` event named so; an event type's name sends that type. */
  track(name: string, properties: Properties = {}): string | null {
    if (PLAIN_TYPES.indexOf(name) >= 0) {
      return this.emit(name, properties);
    }
    return this.emit('custom', properties, { name });
  }

  identify(input: IdentifyInput): string | null {
    if (input.userId === undefined && input.openid === undefined && input.unionid === undefined && input.phone === undefined) {
      this.env.logger.warn('identify needs at least one of userId, openid, unionid or phone');
      return null;
    }
    if (input.userId !== undefined) {
      this.ids.user_id = input.userId;
    }
    if (input.openid !== undefined) {
      this.ids.openid = input.openid;
    }
    if (input.unionid !== undefined) {
      this.ids.unionid = input.unionid;
    }
    this.saveIds();
    const extra: Extra = { traits: input.traits ?? {} };
    if (input.phone !== undefined) {
      extra.phone = input.phone;
    }
    return this.emit('identify', {}, extra);
  }

  /** An order: the collector's attribution decides first order (`convert`) or repurchase by the history. */
  order(input: OrderInput): string | null {
    const props = { ...input.properties, order_id: input.orderId, revenue: input.revenue, currency: input.currency ?? 'CNY' };
    return this.emit('convert', props);
  }

  refund(input: RefundInput): string | null {
    const props: Properties = { ...input.properties, order_id: input.orderId, amount: input.amount, currency: input.currency ?? 'CNY' };
    if (input.reason !== undefined) {
      props.reason = input.reason;
    }
    return this.emit('refund', props);
  }

  /** The page now shown; later events carry it as `context.path`. */
  setPage(path: string | undefined): void {
    this.page = path;
  }

  enter(launch: Launch, start: 'cold' | 'hot'): string | null {
    this.arrivalDepth = launch.share?.depth ?? 0;
    const props: Properties = { start };
    if (launch.referrerAppId !== undefined) {
      props.referrer_app_id = launch.referrerAppId;
    }
    if (launch.sceneRaw !== undefined) {
      props.scene_raw = launch.sceneRaw;
    }
    const context: Partial<WireContext> = { query: launch.query };
    if (launch.scene !== undefined) {
      context.scene = launch.scene;
    }
    if (launch.path !== undefined) {
      context.path = launch.path;
    }
    if (launch.campaign !== undefined) {
      context.campaign = launch.campaign;
    }
    if (launch.share !== undefined) {
      context.share = launch.share;
    }
    return this.emit('enter', props, {}, context);
  }

  pageView(path: string, query: Record<string, string>): string | null {
    this.page = path;
    return this.emit('page_view', {}, {}, Object.keys(query).length > 0 ? { query } : {});
  }

  /** Records a share and returns what to write into the shared path (null while opted out: nothing is added). */
  share(method: string, sharedPath: string): ShareMark | null {
    if (this.optedOut) {
      return null;
    }
    const mark: ShareMark = {
      from: this.ids.user_id ?? this.ids.anonymous_id,
      depth: Math.min(this.arrivalDepth + 1, 100),
      shareId: uuid4(this.env.random),
    };
    this.emit('share', { shared_path: sharedPath.slice(0, 512) }, { share_id: mark.shareId, method });
    return mark;
  }

  flush(): void {
    this.delivery.flush();
  }

  optOut(): void {
    this.optedOut = true;
    this.delivery.discard();
    this.env.port.removeItem(IDS_KEY);
    this.ids = this.freshIds();
    this.store(CONSENT_KEY, 'out');
  }

  optIn(): void {
    if (!this.optedOut) {
      return;
    }
    this.optedOut = false;
    this.store(CONSENT_KEY, 'in');
    this.ids = this.loadIds();
    this.delivery.resume();
  }

  /** Logout: a new anonymous id and no user ids; queued events keep the ids they were recorded with. */
  reset(): void {
    this.ids = { anonymous_id: uuid4(this.env.random), seq: this.ids.seq };
    this.saveIds();
  }

  private emit(type: string, properties: Properties, extra: Extra = {}, context: Partial<WireContext> = {}): string | null {
    if (this.optedOut) {
      return null;
    }
    const item = this.encode(type, properties, extra, context);
    this.delivery.add(item);
    return item.id;
  }

  private encode(type: string, properties: Properties, extra: Extra = {}, context: Partial<WireContext> = {}) {
    const seq = this.ids.seq;
    this.ids.seq = seq + 1;
    this.saveIds(); // before the event is queued: a sequence number is never handed out twice
    const event: WireEvent = {
      event_id: uuid4(this.env.random),
      type,
      timestamp: new Date(this.env.clock.now()).toISOString(),
      anonymous_id: this.ids.anonymous_id,
      ...extra,
      properties,
      context: this.context(seq, context),
    };
    if (this.ids.user_id !== undefined) {
      event.user_id = this.ids.user_id;
    }
    if (this.ids.openid !== undefined) {
      event.openid = this.ids.openid;
    }
    if (this.ids.unionid !== undefined) {
      event.unionid = this.ids.unionid;
    }
    return itemOf(event.event_id, JSON.stringify(event));
  }

  private context(seq: number, extra: Partial<WireContext>): WireContext {
    const context: WireContext = {
      platform: this.settings.platform,
      sdk: { name: SDK_NAME, version: SDK_VERSION },
      device_seq: seq,
    };
    if (this.settings.appVersion !== undefined) {
      context.app_version = this.settings.appVersion;
    }
    if (this.page !== undefined) {
      context.path = this.page;
    }
    if (this.device !== null) {
      context.device = this.device;
    }
    return { ...context, ...extra };
  }

  private freshIds(): Ids {
    return { anonymous_id: uuid4(this.env.random), seq: 0 };
  }

  private loadIds(): Ids {
    const text = this.env.port.getItem(IDS_KEY);
    if (text !== null) {
      try {
        const parsed = JSON.parse(text) as Partial<Ids>;
        if (typeof parsed.anonymous_id === 'string' && parsed.anonymous_id.length > 0 && typeof parsed.seq === 'number') {
          return parsed as Ids;
        }
      } catch {
        this.env.logger.debug('stored ids unreadable: a new anonymous id is made');
      }
    }
    const ids = this.freshIds();
    this.ids = ids;
    this.saveIds();
    return ids;
  }

  private saveIds(): void {
    if (!this.optedOut) {
      this.store(IDS_KEY, JSON.stringify(this.ids));
    }
  }

  private store(key: string, value: string): void {
    try {
      this.env.port.setItem(key, value);
    } catch (error) {
      this.env.logger.debug(`could not store ${key}: ${String(error)}`);
    }
  }
}
