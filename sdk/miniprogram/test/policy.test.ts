import assert from 'node:assert/strict';
import { test } from 'node:test';

import { backoffMs, decide, retryAfterMs } from '../src/policy';
import { itemOf, Queue, utf8Bytes } from '../src/queue';

const NOW = Date.UTC(2026, 10, 20, 10, 0, 0);

test('each answer maps to one decision', () => {
  const body = { accepted: 1, rejected: [{ index: 1, code: 'invalid', reason: 'bad scene' }] };
  assert.deepEqual(decide({ status: 200, headers: {}, body }, 2, NOW), {
    kind: 'accepted',
    rejected: [{ index: 1, code: 'invalid', reason: 'bad scene' }],
  });
  assert.deepEqual(decide({ status: 200, headers: {}, body: JSON.stringify(body) }, 2, NOW).kind, 'accepted');
  assert.deepEqual(decide({ status: 400, headers: {}, body: {} }, 4, NOW), { kind: 'split' });
  assert.deepEqual(decide({ status: 413, headers: {}, body: {} }, 2, NOW), { kind: 'split' });
  assert.deepEqual(decide({ status: 400, headers: {}, body: { error: 'malformed_body', message: 'not JSON' } }, 1, NOW), {
    kind: 'drop_one',
    reason: '400 not JSON',
  });
  assert.deepEqual(decide({ status: 401, headers: {}, body: {} }, 3, NOW), { kind: 'stop', status: 401 });
  assert.deepEqual(decide({ status: 403, headers: {}, body: {} }, 3, NOW), { kind: 'stop', status: 403 });
  assert.deepEqual(decide({ status: 503, headers: { 'Retry-After': '7' }, body: {} }, 3, NOW), { kind: 'wait', delayMs: 7000 });
  assert.deepEqual(decide({ status: 429, headers: { 'retry-after': '2' }, body: {} }, 3, NOW), { kind: 'wait', delayMs: 2000 });
  assert.deepEqual(decide({ status: 503, headers: {}, body: {} }, 3, NOW), { kind: 'backoff' });
  assert.deepEqual(decide({ status: 500, headers: {}, body: {} }, 3, NOW), { kind: 'backoff' });
  assert.deepEqual(decide({ status: 404, headers: {}, body: {} }, 3, NOW), { kind: 'backoff' });
});

test('Retry-After is read as seconds or as an HTTP date, and bounded', () => {
  assert.equal(retryAfterMs('30', NOW), 30_000);
  assert.equal(retryAfterMs(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
  assert.equal(retryAfterMs(new Date(NOW - 5_000).toUTCString(), NOW), 0);
  assert.equal(retryAfterMs('999999', NOW), 3_600_000);
  assert.equal(retryAfterMs('soon', NOW), null);
  assert.equal(retryAfterMs(undefined, NOW), null);
});

test('back-off doubles from 1 s and stays at 5 min', () => {
  const seconds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 40].map((n) => backoffMs(n) / 1000);
  assert.deepEqual(seconds, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
});

test('the queue drops the oldest for room, counts the drops and survives a round trip', () => {
  const queue = new Queue(3, 10_000);
  for (const n of [1, 2, 3, 4, 5]) {
    queue.push(itemOf(`e${String(n)}`, JSON.stringify({ event_id: `e${String(n)}`, n })));
  }
  assert.deepEqual(queue.head(10).map((i) => i.id), ['e3', 'e4', 'e5']);
  assert.equal(queue.dropped, 2);
  const restored = new Queue(3, 10_000);
  restored.restore(queue.serialise());
  assert.deepEqual(restored.head(10).map((i) => i.json), queue.head(10).map((i) => i.json));
  assert.equal(restored.dropped, 2);
  const broken = new Queue(3, 10_000);
  broken.restore('{"v":1,"events":[{"event_id":"ok"},{"no_id":1}]');
  assert.equal(broken.length, 0);
  assert.equal(broken.dropped, 1);
});

test('the queue stays within the bytes of one storage key', () => {
  const event = (n: number) => JSON.stringify({ event_id: `e${String(n)}`, pad: 'x'.repeat(100) });
  const queue = new Queue(1000, 1000);
  for (let n = 0; n < 50; n += 1) queue.push(itemOf(`e${String(n)}`, event(n)));
  assert.ok(utf8Bytes(queue.serialise()) <= 1000, `serialised ${String(utf8Bytes(queue.serialise()))} bytes`);
  assert.equal(queue.length + queue.dropped, 50);
  assert.equal(queue.head(1)[0]?.id, `e${String(queue.dropped)}`);
  assert.equal(utf8Bytes('é中😀'), 2 + 3 + 4);
});
