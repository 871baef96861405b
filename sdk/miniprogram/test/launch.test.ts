import assert from 'node:assert/strict';
import { test } from 'node:test';

import { cleanQuery, launchKey, normaliseScene, readLaunch } from '../src/launch';
import { amendQueryString, amendSharePath } from '../src/share';

test('scenes follow each platform rule: WeChat integers, the others text with their leading zeros', () => {
  assert.equal(normaliseScene('wechat', 1045), 1045);
  assert.equal(normaliseScene('wechat', '1047'), 1047);
  assert.equal(normaliseScene('wechat', 10001), undefined);
  assert.equal(normaliseScene('douyin', '021001'), '021001');
  assert.equal(normaliseScene('douyin', 21001), undefined); // the host prefix is lost: not guessed back
  assert.equal(normaliseScene('alipay', '1000'), '1000');
  assert.equal(normaliseScene('alipay', 1000), undefined);
  assert.equal(normaliseScene('baidu', '10810008'), '10810008');
  assert.equal(normaliseScene('baidu', 'NA'), 'NA');
  assert.equal(normaliseScene('baidu', '1081'), undefined);
});

test('the launch query is decoded for the QR scene and q and bounded to the collector limits', () => {
  const raw: Record<string, unknown> = {
    scene: 'ch%3Dposter_spring%26s%3D7',
    q: 'https%3A%2F%2Fshop.example.com%2Fp%3Fch%3Dstore_12',
    gdt_vid: 'wx0abc123',
    n: 5,
    bad: '%E0%A4%A', // a malformed escape outside scene/q is kept as it came
    ['k'.repeat(65)]: 'too long a key',
    long: 'v'.repeat(2000),
  };
  const query = cleanQuery(raw);
  assert.deepEqual(query, {
    scene: 'ch=poster_spring&s=7',
    q: 'https://shop.example.com/p?ch=store_12',
    gdt_vid: 'wx0abc123',
    n: '5',
    bad: '%E0%A4%A',
    long: 'v'.repeat(1024),
  });
  const many: Record<string, string> = {};
  for (let i = 0; i < 80; i += 1) many[`k${String(i)}`] = 'x';
  assert.equal(Object.keys(cleanQuery(many)).length, 64);
  assert.deepEqual(cleanQuery({ scene: '%E0%A4%A' }), { scene: '%E0%A4%A' }); // malformed: never throws
});

test('a launch carries scene, path, referrer, campaign and the share chain', () => {
  const launch = readLaunch('wechat', {
    scene: 1007,
    path: 'pages/goods/detail',
    query: { utm_source: 'moments', utm_campaign: 'w47', share_from: 'anon-a', share_depth: '2' },
    referrerInfo: { appId: 'wx1234' },
  });
  assert.deepEqual(launch, {
    scene: 1007,
    path: 'pages/goods/detail',
    query: { utm_source: 'moments', utm_campaign: 'w47', share_from: 'anon-a', share_depth: '2' },
    referrerAppId: 'wx1234',
    campaign: { source: 'moments', name: 'w47' },
    share: { from: 'anon-a', depth: 2 },
  });
  const odd = readLaunch('douyin', { scene: 21001, query: { share_from: 'x', share_depth: 'abc' } });
  assert.equal(odd.scene, undefined);
  assert.equal(odd.sceneRaw, '21001');
  assert.deepEqual(odd.share, { from: 'x', depth: 1 });
});

test('a hot start is a new visit only when scene, path or query changed', () => {
  const a = launchKey(readLaunch('wechat', { scene: 1047, path: 'p', query: { a: '1', b: '2' } }));
  const b = launchKey(readLaunch('wechat', { scene: 1047, path: 'p', query: { b: '2', a: '1' } }));
  const c = launchKey(readLaunch('wechat', { scene: 1047, path: 'p', query: { a: '1', b: '3' } }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('a shared path gets the sharer, the depth and the share id, replacing a previous sharer', () => {
  const mark = { from: 'user 1', depth: 3, shareId: 's-1' };
  assert.equal(
    amendSharePath('/pages/a?x=1&share_from=old&share_depth=2#top', mark),
    '/pages/a?x=1&share_from=user%201&share_depth=3&share_id=s-1#top',
  );
  assert.equal(amendSharePath('pages/a', mark), 'pages/a?share_from=user%201&share_depth=3&share_id=s-1');
  assert.equal(amendQueryString('', mark), 'share_from=user%201&share_depth=3&share_id=s-1');
});
