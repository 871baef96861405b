import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createContext, runInContext } from 'node:vm';

import { FakeClock, FakeNetwork, FakeStorage, fakeWxLike } from './fake';

const DIST = join(__dirname, '..', '..', 'dist');
const BUNDLES = ['wechat', 'alipay', 'douyin', 'baidu'].map((p) => `touchstream.${p}.min.js`).concat('touchstream.min.js');

test('no bundle holds code a mini-program review rejects (eval, new Function)', () => {
  for (const name of BUNDLES) {
    const code = readFileSync(join(DIST, name), 'utf8');
    assert.doesNotMatch(code, /\beval\s*\(/, name);
    assert.doesNotMatch(code, /new\s+Function\b|\bFunction\s*\(/, name);
  }
});

test('the WeChat bundle runs as a mini-program loads it: init, App and Page wrapped, events sent through wx', () => {
  const clock = new FakeClock();
  const storage = new FakeStorage();
  const network = new FakeNetwork(clock);
  network.handler = () => ({ status: 200, body: { accepted: 2, rejected: [] } });
  const registered: { app?: Record<string, (o?: unknown) => void>; page?: Record<string, (this: object) => void> } = {};
  const sandbox: Record<string, unknown> = {
    wx: fakeWxLike(storage, network, { launch: {} }),
    App: (o: Record<string, (o?: unknown) => void>) => {
      registered.app = o;
    },
    Page: (o: Record<string, (this: object) => void>) => {
      registered.page = o;
    },
    console: { warn: () => undefined, log: () => undefined },
    setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
    clearTimeout: (h: unknown) => {
      clock.clearTimeout(h);
    },
    module: { exports: {} as Record<string, unknown> },
  };
  sandbox.exports = (sandbox.module as { exports: unknown }).exports;
  createContext(sandbox);
  runInContext(readFileSync(join(DIST, 'touchstream.wechat.min.js'), 'utf8'), sandbox);
  const sdk = (sandbox.module as { exports: Record<string, (...a: unknown[]) => unknown> }).exports;
  assert.deepEqual(Object.keys(sdk).sort(), ['activate', 'createClient', 'flush', 'identify', 'init', 'optIn', 'optOut', 'order', 'refund', 'register', 'registerPlatform', 'reset', 'settingsOf', 'track']);
  sdk.init?.({ endpoint: 'https://collect.example.com', writeKey: 'wk_bundle_0123456789', platform: 'wechat', maxBatch: 2 });
  runInContext("App({}); Page({});", sandbox);
  registered.app?.onShow?.({ scene: 1045, query: { gdt_vid: 'wx0bundle' }, path: 'pages/index/index' });
  registered.page?.onShow?.call({ route: 'pages/index/index' });
  clock.advance(1_000);
  const sent = network.sent[0];
  assert.equal(sent?.url, 'https://collect.example.com/v1/batch');
  assert.deepEqual(sent?.body.events.map((e) => [e.type, (e.context as { scene?: number }).scene]), [['enter', 1045], ['page_view', undefined]]);
});
