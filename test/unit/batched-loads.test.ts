import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, type DataSource } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { bytes, sleep, startEngine, text } from '../helpers/engine.js';

/** A data source with fetchMany that records every call; `fail` makes the next calls throw. */
function batchingSource(delayMs = 0) {
  const source = {
    fetches: [] as string[],
    batches: [] as string[][],
    fail: false,
    async fetch(key: string): Promise<Uint8Array> {
      source.fetches.push(key);
      if (delayMs > 0) await sleep(delayMs);
      if (source.fail) throw new Error('database down');
      return bytes(`value:${key}`);
    },
    async fetchMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
      source.batches.push([...keys]);
      if (delayMs > 0) await sleep(delayMs);
      if (source.fail) throw new Error('database down');
      return new Map(keys.map((key) => [key, bytes(`value:${key}`)]));
    },
  } satisfies DataSource & Record<string, unknown>;
  return source;
}

describe('batched loads (fetchMany)', () => {
  it('a lone cold key goes to fetch; keys asked in the same tick go to fetchMany together', async () => {
    const source = batchingSource();
    const engine = await startEngine({ dataSource: source });
    assert.equal(text((await engine.get('ks', 'alone'))?.value), 'value:alone');
    const [a, b] = await Promise.all([engine.get('ks', 'a'), engine.get('ks', 'b')]);
    assert.deepEqual([text(a?.value), text(b?.value)], ['value:a', 'value:b']);
    assert.deepEqual(source.fetches, ['alone']);
    assert.deepEqual(source.batches, [['a', 'b']]);
    await engine.stop();
  });

  it('keys asked by callers that resumed from the same awaited promise join one batch', async () => {
    const source = batchingSource();
    const engine = await startEngine({ dataSource: source });
    const gate = Promise.resolve();
    await Promise.all(
      ['a', 'b', 'c'].map(async (key) => {
        await gate;
        await null; // one more hop, as an application's own async layers add
        return engine.get('ks', key);
      }),
    );
    assert.deepEqual(source.batches, [['a', 'b', 'c']]);
    await engine.stop();
  });

  it('a batch counts as one call for the rate limiter', async () => {
    const source = batchingSource();
    const engine = await startEngine({
      dataSource: source,
      rateLimit: { requestsPerSecond: 1, burst: 1, waitTimeout: 0 },
    });
    const results = await engine.getMany('ks', ['a', 'b', 'c', 'd']);
    assert.equal(results.length, 4);
    assert.deepEqual(source.batches, [['a', 'b', 'c', 'd']]);
    await rejectsWithCode(engine.getMany('ks', ['e', 'f']), ErrorCode.DATASOURCE_RATE_LIMITED);
    assert.equal(source.batches.length, 1);
    await engine.stop();
  });

  it('a failed batch counts as one failure for the breaker, and an open breaker refuses batches', async () => {
    const source = batchingSource();
    source.fail = true;
    const engine = await startEngine({
      dataSource: source,
      circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 },
    });
    const first = await Promise.allSettled(['a', 'b', 'c'].map((key) => engine.get('ks', key)));
    assert.ok(first.every((outcome) => outcome.status === 'rejected'));
    assert.equal(engine.stats('ks').breakerState, 'closed', 'three keys, one failure');
    await rejectsWithCode(engine.getMany('ks', ['d', 'e']), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await rejectsWithCode(engine.getMany('ks', ['f', 'g']), ErrorCode.DATASOURCE_CIRCUIT_OPEN);
    assert.equal(source.batches.length, 2);
    await engine.stop();
  });

  it('splits more keys than maxBatch into several calls of at most maxBatch', async () => {
    const source = batchingSource();
    const engine = await startEngine({ dataSource: source, maxBatch: 3 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const results = await engine.getMany('ks', keys);
    assert.deepEqual(
      results.map((result) => text(result?.value)),
      keys.map((key) => `value:${key}`),
    );
    assert.deepEqual(source.batches, [
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    assert.deepEqual(source.fetches, ['g'], 'the last key alone goes to fetch');
    await engine.stop();
  });

  it('aborting one caller of a batch rejects it alone; the batch still answers and stores the others', async () => {
    const source = batchingSource(20);
    const engine = await startEngine({ dataSource: source });
    const controller = new AbortController();
    const aborted = engine.get('ks', 'a', { signal: controller.signal });
    const other = engine.get('ks', 'b');
    await sleep(5);
    controller.abort(new Error('client went away'));
    await rejectsWithCode(aborted, ErrorCode.ABORTED);
    assert.equal(text((await other)?.value), 'value:b');
    assert.deepEqual(source.batches, [['a', 'b']], 'both keys went in one batch');
    assert.equal(engine.stats('ks').entries, 2);
    await engine.stop();
  });

  it('a put during a batch wins over the batch for that key only', async () => {
    const source = batchingSource(20);
    const engine = await startEngine({ dataSource: source });
    const loading = engine.getMany('ks', ['a', 'b']);
    await sleep(5);
    await engine.put('ks', { key: 'a', value: bytes('written') });
    await loading;
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'written');
    assert.equal(text((await engine.get('ks', 'b'))?.value), 'value:b');
    assert.equal(source.batches.length, 1);
    await engine.stop();
  });

  it('an array answer aligned with the keys works like a Map; undefined and null are "not found"', async () => {
    const engine = await startEngine({
      dataSource: {
        fetch: () => undefined,
        fetchMany: (keys) => keys.map((key) => (key === 'a' ? bytes('A') : key === 'b' ? null : undefined)),
      },
    });
    const results = await engine.getMany('ks', ['a', 'b', 'c']);
    assert.deepEqual(
      results.map((result) => text(result?.value)),
      ['A', undefined, undefined],
    );
    await engine.stop();
  });
});
