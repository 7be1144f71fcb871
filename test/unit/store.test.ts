import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ByteBoundedLru, ENTRY_OVERHEAD_BYTES, entryCost } from '../../src/lib/byte-bounded-lru.js';

const value = (size: number, fill = 1): Uint8Array => new Uint8Array(size).fill(fill);

describe('ByteBoundedLru', () => {
  it('charges key bytes + value bytes + the fixed overhead for each entry', () => {
    const store = new ByteBoundedLru(10_000);
    store.set('ключ', value(100), 0);
    assert.equal(store.bytes, Buffer.byteLength('ключ') + 100 + ENTRY_OVERHEAD_BYTES);
  });

  it('evicts the least recently used entries to make room', () => {
    const cost = entryCost('a', value(100));
    const store = new ByteBoundedLru(cost * 3);
    store.set('a', value(100), 0);
    store.set('b', value(100), 0);
    store.set('c', value(100), 0);
    store.get('a', 0);
    store.set('d', value(100), 0);
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((key) => store.peek(key) !== undefined),
      [true, false, true, true],
    );
    assert.equal(store.evictions, 1);
  });

  it('refuses an entry larger than maxBytes and drops the key old value', () => {
    const store = new ByteBoundedLru(1_000);
    store.set('k', value(10), 0);
    assert.equal(store.set('k', value(2_000), 0), false);
    assert.equal(store.peek('k'), undefined);
    assert.equal(store.bytes, 0);
  });

  it('treats expired entries as misses and drops them unless retained for stale reads', () => {
    const plain = new ByteBoundedLru(10_000);
    plain.set('k', value(1), 1_000);
    assert.equal(plain.get('k', 1_000), undefined);
    assert.equal(plain.size, 0);

    const retaining = new ByteBoundedLru(10_000, 500);
    retaining.set('k', value(1), 1_000);
    assert.equal(retaining.get('k', 1_400), undefined);
    assert.ok(retaining.peek('k'), 'kept within retainExpiredMs');
    assert.equal(retaining.get('k', 1_600), undefined);
    assert.equal(retaining.peek('k'), undefined, 'dropped after retainExpiredMs');
  });

  it('never exceeds maxBytes and always reads back the last value written, under 10x oversubscription', () => {
    const maxBytes = 64 * 1024;
    const operation = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant('set' as const),
          key: fc.integer({ min: 0, max: 400 }),
          size: fc.integer({ min: 0, max: 4_096 }),
          ttl: fc.integer({ min: 0, max: 50 }),
        }),
      },
      fc.record({ op: fc.constant('get' as const), key: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ op: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 20 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(operation, { minLength: 1_000, maxLength: 2_000 }),
        fc.integer({ min: 0, max: 30 }),
        (operations, retain) => {
          const store = new ByteBoundedLru(maxBytes, retain);
          const model = new Map<string, { fill: number; size: number; expiresAt: number }>();
          let now = 1;
          let written = 0;
          for (const [index, step] of operations.entries()) {
            if (step.op === 'tick') {
              now += step.ms;
              continue;
            }
            const key = `key-${step.key}`;
            if (step.op === 'set') {
              const fill = index % 251;
              const expiresAt = step.ttl === 0 ? 0 : now + step.ttl;
              written += entryCost(key, value(step.size));
              if (store.set(key, value(step.size, fill), expiresAt))
                model.set(key, { fill, size: step.size, expiresAt });
              else model.delete(key);
            } else if (step.op === 'delete') {
              store.delete(key);
              model.delete(key);
            } else {
              const entry = store.get(key, now);
              const expected = model.get(key);
              if (entry !== undefined) {
                assert.ok(expected, `${key} read back after delete`);
                assert.ok(expected.expiresAt === 0 || expected.expiresAt > now, `${key} read back after expiry`);
                assert.equal(entry.value!.byteLength, expected.size);
                if (expected.size > 0) assert.equal(entry.value![0], expected.fill);
              }
            }
            assert.ok(store.bytes <= maxBytes, `bytes ${store.bytes} > maxBytes`);
          }
          let sum = 0;
          for (const key of model.keys()) {
            const entry = store.peek(key);
            if (entry) sum += entryCost(key, entry.value);
          }
          assert.equal(store.bytes, sum, 'bytes is the sum of the costs of the entries held');
          assert.ok(written > 10 * maxBytes, `only ${written} bytes written: not 10x oversubscribed`);
        },
      ),
      { numRuns: 200 },
    );
  });
});
