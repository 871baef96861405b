/**
 * Prints (stdout, one JSON document) the request bodies the SDK sends in a scripted session on every
 * platform, so that tests/unit/sdk/test_golden_payloads.py can validate them with the collector's own models.
 * Every kind of event the SDK produces is in it, the drop report included.
 */

import { Collector, start, world } from './helpers';

const sessions: Array<[string, { scene: unknown; path: string; query: Record<string, string> }]> = [
  ['wechat', { scene: 1045, path: 'pages/index/index', query: { gdt_vid: 'wx0abc123', weixinadinfo: '4242.wx0abc123.0.1', utm_source: 'moments' } }],
  ['alipay', { scene: '1005', path: 'pages/index/index', query: { utm_source: 'ali', utm_medium: 'cpc' } }],
  ['douyin', { scene: '021001', path: 'pages/index/index', query: { clickid: 'oe-click-1' } }],
  ['baidu', { scene: '10810008', path: 'pages/index/index', query: {} }],
];

const bodies: unknown[] = [];
for (const [platform, launch] of sessions) {
  const w = world();
  const collector = new Collector();
  let online = true;
  w.network.handler = (request) => {
    if (!online) {
      return 'offline';
    }
    bodies.push({ platform, ...request.body });
    return collector.handle(request);
  };
  const { host, client } = start(w, { platform: platform as 'wechat', maxQueue: 16, maxBatch: 50, appVersion: '1.2.3' }, 7);
  host.show({ ...launch, referrerInfo: { appId: 'wx-referrer' } });
  const page = host.openPage(0, 'pages/goods/detail', { id: '42' });
  page.share();
  page.timeline();
  host.hide();
  host.show({ scene: platform === 'wechat' ? 1047 : launch.scene, path: 'pages/goods/detail', query: { scene: 'ch%3Dposter_spring' } });
  client.track('exposure', { slot: 'banner' });
  client.track('click', { slot: 'banner' });
  client.track('add_to_cart', { sku: 'sku-1', price: 19.9 });
  client.track('register');
  client.track('activate');
  client.identify({ userId: 'u-1', openid: 'o-1', unionid: 'un-1', phone: '+8613800000000', traits: { level: 2 } });
  client.order({ orderId: 'ord-1', revenue: '19.90', currency: 'CNY' });
  client.refund({ orderId: 'ord-1', amount: 5, reason: 'damaged' });
  client.track('repurchase', { order_id: 'ord-2', revenue: 8, currency: 'CNY' });
  w.clock.advance(60_000);
  online = false; // the queue (16) overflows and the drop is reported once online again
  for (let n = 0; n < 20; n += 1) client.track('scroll', { n });
  w.clock.advance(60_000);
  online = true;
  w.clock.advance(600_000);
}
process.stdout.write(JSON.stringify(bodies));
