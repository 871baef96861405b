/**
 * Drives the SDK against a real collector:
 * `node build/test/drive-collector.js <endpoint> <write key> <tag> [<seconds to wait for the queues to empty>]`.
 * Three devices: A arrives from a Tencent ad (gdt_vid), views a page, shares it, registers and orders, then
 * comes back through a new mini-program code (a hot start); B opens A's share card; D is a Douyin visit from
 * an Ocean Engine ad. Prints one JSON document: the ids of the devices and what the collector acknowledged.
 */

import { device, type Ledger } from './fetch-platform';

const [endpoint, writeKey, tag, waitS] = process.argv.slice(2) as [string, string, string, string | undefined];
const ledger: Ledger = { acknowledged: new Map(), statuses: [], failures: 0 };
const base = { endpoint, writeKey, flushIntervalMs: 200, maxBatch: 4, debug: true } as const;

const a = device({ ...base, platform: 'wechat' }, ledger);
const gdt = `wx0${tag}`;
a.host.show({ scene: 1045, path: 'pages/index/index', query: { gdt_vid: gdt, weixinadinfo: `4242.${gdt}.0.1`, utm_source: 'moments' } });
const pageA = a.host.openPage(0, 'pages/goods/detail', { id: '42' });
const shared = (pageA.share() as { path: string }).path;
a.client.track('register');
a.client.order({ orderId: `${tag}-o1`, revenue: '19.90' });
a.host.hide();
a.host.show({ scene: 1047, path: 'pages/goods/detail', query: { scene: 'ch%3Dposter_spring' } });

const b = device({ ...base, platform: 'wechat' }, ledger);
const sharedQuery = Object.fromEntries(new URL(`https://x${shared}`).searchParams);
b.host.show({ scene: 1007, path: 'pages/goods/detail', query: sharedQuery });
b.host.openPage(0, 'pages/goods/detail', sharedQuery);

const d = device({ ...base, platform: 'douyin' }, ledger);
d.host.show({ scene: '021001', path: 'pages/index/index', query: { clickid: `oe${tag}` } });

const devices = { a, b, d };
const deadline = Date.now() + Number(waitS ?? '60') * 1000;
const timer = setInterval(() => {
  const pending = Object.values(devices).reduce((n, sdk) => n + sdk.client.delivery.pending(), 0);
  const busy = Object.values(devices).some((sdk) => sdk.client.delivery.inFlight());
  if ((pending === 0 && !busy) || Date.now() > deadline) {
    clearInterval(timer);
    const out = {
      pending,
      statuses: ledger.statuses,
      failures: ledger.failures,
      devices: { a: a.client.anonymousId(), b: b.client.anonymousId(), d: d.client.anonymousId() },
      shared,
      acknowledged: [...ledger.acknowledged.values()],
    };
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
  }
}, 100);
