import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Collector, start, world } from './helpers';

const GDT = { gdt_vid: 'wx0abc123', weixinadinfo: '4242.wx0abc123.0.1', utm_source: 'moments' };

function drain(w: ReturnType<typeof world>, ms = 60_000): void {
  w.clock.advance(ms);
}

test('cold start with gdt_vid: one enter with the scene, the click ids, the path and the referrer', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { host, client } = start(w);
  host.show({ scene: 1045, path: 'pages/index/index', query: GDT, referrerInfo: { appId: 'wxabcdef' } });
  drain(w);
  const enters = collector.ofType('enter');
  assert.equal(enters.length, 1);
  const enter = enters[0]!;
  assert.equal(enter.anonymous_id, client.anonymousId());
  assert.deepEqual(enter.properties, { start: 'cold', referrer_app_id: 'wxabcdef' });
  assert.equal(enter.context.scene, 1045);
  assert.equal(enter.context.path, 'pages/index/index');
  assert.deepEqual(enter.context.query, GDT);
  assert.deepEqual(enter.context.campaign, { source: 'moments' });
  assert.equal(enter.context.platform, 'wechat');
  assert.equal(enter.context.device_seq, 0);
  assert.deepEqual(enter.context.device, { brand: 'Apple', model: 'iPhone 15', os: 'iOS', os_version: '17.1', screen_width: 393, screen_height: 852 });
  // The anonymous id is on the device: the next launch is the same visitor.
  const stored = JSON.parse(w.storage.data.get('touchstream_ids') ?? '{}') as { anonymous_id: string; seq: number };
  assert.equal(stored.anonymous_id, client.anonymousId());
  assert.equal(stored.seq, 1);
});

test('hot start from a new QR code is a new enter; the same options again (Home key) are not', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { host } = start(w);
  host.show({ scene: 1045, path: 'pages/index/index', query: GDT });
  host.hide();
  host.show({ scene: 1045, path: 'pages/index/index', query: GDT });
  host.hide();
  host.show({ scene: 1047, path: 'pages/goods/detail', query: { scene: 'ch%3Dposter_spring' } });
  drain(w);
  const enters = collector.ofType('enter');
  assert.deepEqual(enters.map((e) => [e.properties, e.context.scene, e.context.query]), [
    [{ start: 'cold' }, 1045, GDT],
    [{ start: 'hot' }, 1047, { scene: 'ch=poster_spring' }],
  ]);
});

test('onShow without options falls back to getEnterOptionsSync', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  w.launches.enter = { scene: 1011, query: { ch: 'store_12' }, path: 'pages/index/index' };
  const { host } = start(w);
  host.show({} as never);
  drain(w);
  assert.deepEqual(collector.ofType('enter').map((e) => [e.context.scene, e.context.query]), [[1011, { ch: 'store_12' }]]);
});

test('page views carry the route; a Component page is captured like a Page', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { host } = start(w);
  host.Component({ methods: {} });
  host.show({ scene: 1001, path: 'pages/index/index', query: {} });
  host.openPage(0, 'pages/goods/detail', { id: '42' });
  host.openComponentPage(0, 'pages/cart/cart');
  drain(w);
  const views = collector.ofType('page_view');
  assert.deepEqual(views.map((e) => [e.context.path, e.context.query]), [
    ['pages/goods/detail', { id: '42' }],
    ['pages/cart/cart', undefined],
  ]);
});

test('share chain: the shared path names the sharer and depth + 1, and the visits it brings carry it', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const a = start(w, {}, 11);
  a.host.show({ scene: 1001, path: 'pages/index/index', query: {} });
  const pageA = a.host.openPage(0, 'pages/goods/detail', { id: '42' });
  const sharedByA = pageA.share() as { title: string; path: string };
  const aId = a.client.anonymousId();
  const url = new URL(`https://x${sharedByA.path}`);
  assert.equal(sharedByA.title, 'look');
  assert.equal(url.pathname, '/pages/goods/detail');
  assert.equal(url.searchParams.get('id'), '42');
  assert.equal(url.searchParams.get('share_from'), aId);
  assert.equal(url.searchParams.get('share_depth'), '1');

  // B opens the card on another phone (its own storage), and shares it on.
  const wb = world();
  wb.network.handler = collector.handle;
  const b = start(wb, {}, 22);
  const query = Object.fromEntries(url.searchParams);
  b.host.show({ scene: 1007, path: 'pages/goods/detail', query });
  const pageB = b.host.openPage(0, 'pages/goods/detail', query);
  const sharedByB = new URL(`https://x${(pageB.share() as { path: string }).path}`);
  assert.equal(sharedByB.searchParams.get('share_from'), b.client.anonymousId());
  assert.equal(sharedByB.searchParams.get('share_depth'), '2');
  assert.equal(sharedByB.searchParams.get('id'), '42');
  const timeline = pageB.timeline() as { query: string };
  assert.match(timeline.query, /share_depth=2/);
  drain(w);
  drain(wb);

  const bEnter = collector.ofType('enter').find((e) => e.anonymous_id === b.client.anonymousId());
  assert.deepEqual(bEnter?.context.share, { from: aId, depth: 1 });
  assert.equal(bEnter?.context.scene, 1007);
  const shares = collector.ofType('share');
  assert.deepEqual(shares.map((e) => [e.anonymous_id, e.method]), [
    [aId, 'chat'],
    [b.client.anonymousId(), 'chat'],
    [b.client.anonymousId(), 'timeline'],
  ]);
  assert.equal(shares[0]?.share_id, url.searchParams.get('share_id'));
});

test('Alipay, Douyin and Baidu launches map into the same fields with their own scene text', () => {
  const cases = [
    ['alipay', { scene: '1005', query: { utm_source: 'ali' }, path: 'pages/index/index' }, '1005'],
    ['douyin', { scene: '021001', query: { clickid: 'oe-123' }, path: 'pages/index/index' }, '021001'],
    ['baidu', { scene: '10810008', query: {}, path: 'pages/index/index' }, '10810008'],
  ] as const;
  for (const [platform, options, scene] of cases) {
    const w = world();
    const collector = new Collector();
    w.network.handler = collector.handle;
    const { host } = start(w, { platform });
    host.show(options);
    drain(w);
    const enter = collector.ofType('enter')[0];
    assert.equal(enter?.context.platform, platform);
    assert.equal(enter?.context.scene, scene);
    assert.deepEqual(enter?.context.query, options.query);
    assert.equal(w.network.sent[0]?.headers['X-Write-Key'], 'wk_test_0123456789');
  }
});

test('a scene that breaks its platform rule is left out of context and kept as a property', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { host } = start(w, { platform: 'douyin' });
  host.show({ scene: 21001, query: {}, path: 'p' });
  drain(w);
  const enter = collector.ofType('enter')[0];
  assert.equal(enter?.context.scene, undefined);
  assert.deepEqual(enter?.properties, { start: 'cold', scene_raw: '21001' });
});
