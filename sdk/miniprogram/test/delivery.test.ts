import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Collector, type Ev, ledgerOf, start, world } from './helpers';

const MIN = 60_000;

function seqs(events: Ev[]): number[] {
  return events.map((e) => e.context.device_seq as number);
}

test('offline for an hour, then online: nothing lost, nothing doubled, device order kept, back-off 1 s .. 5 min', () => {
  const w = world();
  const collector = new Collector();
  let online = false;
  w.network.handler = (request) => (online ? collector.handle(request) : 'offline');
  const { client } = start(w, { flushIntervalMs: 5_000, maxBatch: 20 });
  const ledger: string[] = [];
  for (let minute = 0; minute < 60; minute += 1) {
    for (let k = 0; k < 2; k += 1) {
      ledger.push(client.track('add_to_cart', { minute, k }) as string);
    }
    w.clock.advance(MIN);
  }
  const attempts = w.network.sent.map((s) => s.at);
  const gaps = attempts.slice(1).map((at, i) => Math.round((at - (attempts[i] as number) - 50) / 1000));
  // Doubling from 1 s, capped at 5 min (the gap also holds the fake 50 ms latency, subtracted above).
  assert.deepEqual(gaps.slice(0, 10), [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
  assert.ok(gaps.every((g) => g <= 300), `gaps ${gaps.join(',')}`);
  online = true;
  w.clock.advance(10 * MIN);
  assert.equal(client.delivery.pending(), 0);
  assert.deepEqual(collector.ids(), ledger); // exactly the ledger, once each, in the order tracked
  assert.deepEqual(seqs(collector.accepted), ledger.map((_, i) => i));
  // sent_at is stamped on each attempt: the retries of one batch carry different values.
  const firstBatch = w.network.sent.filter((s) => s.body.events[0]?.event_id === ledger[0]).map((s) => s.body.sent_at);
  assert.ok(new Set(firstBatch).size === firstBatch.length && firstBatch.length > 5, firstBatch.join(' '));
});

test('app killed with a full queue and restarted: every event is sent, once, in order', () => {
  const w = world();
  w.network.handler = () => 'offline';
  const first = start(w, { maxQueue: 300, maxBatch: 50 }, 1);
  const ledger = ledgerOf(Array.from({ length: 300 }, (_, n) => first.client.track('view_item', { n })));
  w.clock.advance(3_000); // one failed attempt, then the process dies: no flush, no goodbye
  first.kill();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const second = start(w, { maxQueue: 300, maxBatch: 50 }, 2);
  assert.equal(second.client.anonymousId(), first.client.anonymousId());
  assert.equal(second.client.delivery.pending(), 300);
  w.clock.advance(MIN);
  second.client.track('after_restart');
  w.clock.advance(MIN);
  assert.deepEqual(collector.ids().slice(0, 300), ledger);
  assert.equal(collector.accepted.length, 301);
  assert.deepEqual(seqs(collector.accepted), Array.from({ length: 301 }, (_, i) => i));
  assert.equal(collector.ofType('custom').filter((e) => e.name === 'sdk_events_dropped').length, 0);
});

test('a 400 batch is split down to the one bad event, which alone is dropped', () => {
  const w = world();
  const collector = new Collector();
  const sizes: number[] = [];
  w.network.handler = (request) => {
    sizes.push(request.body.events.length);
    const poisoned = request.body.events.some((e) => (e.properties as Record<string, unknown>).poison === true);
    return poisoned ? { status: 400, body: { error: 'malformed_body', message: 'bad' } } : collector.handle(request);
  };
  const { client } = start(w, { maxBatch: 16, flushIntervalMs: 60_000 });
  const ids = Array.from({ length: 16 }, (_, n) => client.track('item', { n, poison: n === 10 }) as string);
  w.clock.advance(MIN);
  assert.deepEqual(collector.ids(), ids.filter((_, n) => n !== 10));
  assert.deepEqual(sizes, [16, 8, 8, 4, 2, 2, 1, 1, 4]);
  assert.equal(client.delivery.pending(), 0);
  // After the split the batch size is back to maxBatch.
  const more = Array.from({ length: 16 }, (_, n) => client.track('more', { n }) as string);
  w.clock.advance(MIN);
  assert.deepEqual(collector.ids().slice(15), more);
  assert.equal(sizes[sizes.length - 1], 16);
});

test('a batch stays below the collector body limit however large its events', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { client } = start(w, { maxBatch: 50 });
  const ids = Array.from({ length: 30 }, (_, n) => client.track('big', { n, blob: 'x'.repeat(20_000) }) as string);
  w.clock.advance(MIN);
  assert.deepEqual(collector.ids(), ids);
  const sizes = w.network.sent.map((s) => Buffer.byteLength(JSON.stringify(s.body)));
  assert.ok(sizes.every((b) => b < 500_000), sizes.join(','));
  assert.ok(w.network.sent.length >= 2);
});

test('503 + Retry-After: nothing is sent before it, then the same events with a fresh sent_at', () => {
  const w = world();
  const collector = new Collector();
  let first = true;
  w.network.handler = (request) => {
    if (first) {
      first = false;
      return { status: 503, headers: { 'Retry-After': '30' }, body: { error: 'unavailable', message: 'kafka' } };
    }
    return collector.handle(request);
  };
  const { client } = start(w, { maxBatch: 3, platform: 'alipay' });
  const ids = ledgerOf([client.track('a'), client.track('b'), client.track('c')]);
  w.clock.advance(29_000);
  assert.equal(w.network.sent.length, 1);
  w.clock.advance(2_000);
  assert.equal(w.network.sent.length, 2);
  const [one, two] = w.network.sent;
  assert.deepEqual(two?.body.events.map((e) => e.event_id), ids);
  assert.deepEqual(two?.body.events, one?.body.events);
  assert.notEqual(two?.body.sent_at, one?.body.sent_at);
  assert.equal(two?.body.sent_at, new Date(two?.at ?? 0).toISOString());
  assert.deepEqual(collector.ids(), ids);
});

test('storage full: nothing is lost, nothing thrown, and the queue is written again once there is room', () => {
  const w = world();
  const collector = new Collector();
  let online = false;
  w.network.handler = (request) => (online ? collector.handle(request) : 'offline');
  w.storage.full = true;
  const { client } = start(w, { maxBatch: 100 });
  const ids = ledgerOf(Array.from({ length: 20 }, (_, n) => client.track('x', { n })));
  assert.equal(ids.length, 20);
  assert.equal(w.storage.data.get('touchstream_queue'), undefined);
  w.storage.full = false;
  ids.push(client.track('y') as string);
  const stored = JSON.parse(w.storage.data.get('touchstream_queue') ?? '{}') as { events: Ev[] };
  assert.deepEqual(stored.events.map((e) => e.event_id), ids);
  online = true;
  w.clock.advance(10 * MIN);
  assert.deepEqual(collector.ids(), ids);
});

test('queue full while a request is in flight: the oldest waiting events are dropped, the in-flight ones kept', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  w.network.latencyMs = 5_000;
  const { client } = start(w, { maxQueue: 4, maxBatch: 2 });
  const ids = ledgerOf(Array.from({ length: 2 }, (_, n) => client.track('x', { n }))); // sent at once: in flight
  const later = ledgerOf(Array.from({ length: 4 }, (_, n) => client.track('y', { n })));
  assert.equal(client.delivery.queue.dropped, 2);
  w.clock.advance(10 * MIN);
  const report = collector.accepted.find((e) => e.name === 'sdk_events_dropped');
  assert.deepEqual(report?.properties, { dropped_events: 2 });
  assert.deepEqual(collector.accepted.filter((e) => e !== report).map((e) => e.event_id), [...ids, ...later.slice(2)]);
});

test('queue full: the oldest are dropped, and the drop is reported in the next batch', () => {
  const w = world();
  const collector = new Collector();
  let online = false;
  w.network.handler = (request) => (online ? collector.handle(request) : 'offline');
  const { client } = start(w, { maxQueue: 5, maxBatch: 50 });
  const ids = ledgerOf(Array.from({ length: 8 }, (_, n) => client.track('x', { n })));
  online = true;
  w.clock.advance(10 * MIN);
  const [report, ...rest] = collector.accepted;
  assert.equal(report?.type, 'custom');
  assert.equal(report?.name, 'sdk_events_dropped');
  assert.deepEqual(report?.properties, { dropped_events: 3 });
  assert.deepEqual(rest.map((e) => e.event_id), ids.slice(3));
});

test('events rejected in a 200 are dropped, never sent again', () => {
  const w = world();
  const collector = new Collector();
  collector.reject = (e) => ((e.properties as Record<string, unknown>).bad === true ? 'custom name invalid' : null);
  w.network.handler = collector.handle;
  const { client } = start(w, { maxBatch: 3 });
  const ids = ledgerOf([client.track('a'), client.track('b', { bad: true }), client.track('c')]);
  w.clock.advance(10 * MIN);
  assert.equal(w.network.sent.length, 1);
  assert.deepEqual(collector.ids(), [ids[0], ids[2]]);
  assert.equal(client.delivery.pending(), 0);
});

test('401: sending stops, the queue is kept, the key problem is said once; the next launch sends it all', () => {
  const w = world();
  w.network.handler = () => ({ status: 401, body: { error: 'unauthorized', message: 'unknown write key' } });
  const first = start(w, { maxBatch: 2 });
  const ids = ledgerOf([first.client.track('a'), first.client.track('b'), first.client.track('c'), first.client.track('d')]);
  w.clock.advance(30 * MIN);
  assert.equal(w.network.sent.length, 1);
  assert.equal(w.warnings.length, 1);
  first.kill();
  assert.match(w.warnings[0] ?? '', /refused the write key \(401\)/);
  assert.doesNotMatch(w.warnings[0] ?? '', /wk_test/);
  const collector = new Collector();
  w.network.handler = collector.handle;
  start(w, { maxBatch: 2 });
  w.clock.advance(MIN);
  assert.deepEqual(collector.ids(), ids);
});

test('a request that never answers is given up after its timeout and sent again with the same ids', () => {
  const w = world();
  const collector = new Collector();
  let hang = true;
  w.network.handler = (request) => {
    if (hang) {
      hang = false;
      return 'hang';
    }
    return collector.handle(request);
  };
  const { client } = start(w, { maxBatch: 1, requestTimeoutMs: 10_000 });
  const id = client.track('a') as string;
  w.clock.advance(14_000);
  assert.equal(w.network.sent.length, 1);
  w.clock.advance(10_000);
  assert.deepEqual(collector.ids(), [id]);
});

test('opted out: nothing stored, nothing sent; opting in records the visit', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { client, host, tracker } = start(w, { requireConsent: true });
  host.show({ scene: 1045, path: 'pages/index/index', query: { gdt_vid: 'wx0abc123' } });
  assert.equal(client.track('x'), null);
  w.clock.advance(10 * MIN);
  assert.equal(w.network.sent.length, 0);
  assert.deepEqual([...w.storage.data.keys()], []);
  client.optIn();
  tracker.consented();
  w.clock.advance(MIN);
  assert.deepEqual(collector.accepted.map((e) => [e.type, e.context.query]), [['enter', { gdt_vid: 'wx0abc123' }]]);
  assert.equal(w.storage.data.get('touchstream_consent'), 'in');
  client.optOut();
  assert.equal(client.track('y'), null);
  assert.deepEqual([...w.storage.data.entries()], [['touchstream_consent', 'out']]);
  const again = start(w);
  assert.equal(again.client.isOptedOut(), true);
});

test('identify, order, refund and reset: the ids ride on later events; reset makes a new visitor', () => {
  const w = world();
  const collector = new Collector();
  w.network.handler = collector.handle;
  const { client } = start(w, { maxBatch: 10 });
  const anon = client.anonymousId();
  client.identify({ userId: 'u-1', openid: 'o-1', phone: '+8613800000000', traits: { level: 3 } });
  client.order({ orderId: 'ord-1', revenue: '19.90' });
  client.refund({ orderId: 'ord-1', amount: 5, reason: 'damaged' });
  client.reset();
  client.track('after_logout');
  w.clock.advance(MIN);
  const [identify, order, refund, after] = collector.accepted;
  assert.deepEqual([identify?.type, identify?.user_id, identify?.openid, identify?.phone, identify?.traits], ['identify', 'u-1', 'o-1', '+8613800000000', { level: 3 }]);
  assert.deepEqual([order?.type, order?.user_id, order?.properties], ['convert', 'u-1', { order_id: 'ord-1', revenue: '19.90', currency: 'CNY' }]);
  assert.deepEqual([refund?.type, refund?.properties], ['refund', { order_id: 'ord-1', amount: 5, currency: 'CNY', reason: 'damaged' }]);
  assert.equal(after?.user_id, undefined);
  assert.notEqual(after?.anonymous_id, anon);
  assert.equal(after?.context.device_seq, 3); // the device's sequence goes on across a logout
  assert.equal(JSON.stringify(JSON.parse(w.storage.data.get('touchstream_ids') ?? '{}')).includes('13800000000'), false);
});
