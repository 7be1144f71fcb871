import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistCacheError, ErrorCode } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { bytes, countingSource, sleep, startEngine, text } from '../helpers/engine.js';

/** A data source whose behaviour the test switches: 'ok' answers, 'fail' throws. */
function switchableSource() {
  const source = {
    mode: 'ok' as 'ok' | 'fail',
    delayMs: 0,
    calls: 0,
    async fetch(key: string): Promise<Uint8Array> {
      source.calls++;
      if (source.delayMs > 0) await sleep(source.delayMs);
      if (source.mode === 'fail') throw new Error(`database down (${key})`);
      return bytes(`value:${key}`);
    },
  };
  return source;
}

describe('single-flight', () => {
  it('N concurrent gets of a cold key make one data-source call', async () => {
    const source = countingSource(20);
    const engine = await startEngine({ dataSource: source });
    const results = await Promise.all(Array.from({ length: 1_000 }, () => engine.get('ks', 'cold')));
    assert.equal(source.calls, 1);
    assert.ok(results.every((result) => text(result?.value) === 'value:cold'));
    await engine.stop();
  });

  it('10,000 concurrent gets over 100 cold keys make exactly 100 data-source calls', async () => {
    const source = countingSource(5);
    const engine = await startEngine({ dataSource: source });
    const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i % 100}`);
    const results = await Promise.all(keys.map((key) => engine.get('ks', key)));
    assert.equal(source.calls, 100);
    assert.ok(results.every((result, i) => text(result?.value) === `value:${keys[i]}`));
    await engine.stop();
  });

  it('aborting one caller rejects it with ERR_ABORTED and never cancels the other waiters', async () => {
    const source = countingSource(30);
    const engine = await startEngine({ dataSource: source });
    const controller = new AbortController();
    const aborted = engine.get('ks', 'a', { signal: controller.signal });
    const other = engine.get('ks', 'a');
    await sleep(5);
    controller.abort(new Error('client went away'));
    const error = await rejectsWithCode(aborted, ErrorCode.ABORTED);
    assert.equal((error.cause as Error).message, 'client went away');
    assert.equal(text((await other)?.value), 'value:a');
    assert.equal(source.calls, 1);
    assert.equal(engine.stats('ks').entries, 1, 'the shared load still stored its value');
    await engine.stop();
  });

  it('an already aborted signal rejects at once without a load', async () => {
    const source = countingSource();
    const engine = await startEngine({ dataSource: source });
    await rejectsWithCode(engine.get('ks', 'a', { signal: AbortSignal.abort() }), ErrorCode.ABORTED);
    await rejectsWithCode(
      engine.put('ks', { key: 'a', value: bytes('x') }, { signal: AbortSignal.abort() }),
      ErrorCode.ABORTED,
    );
    assert.equal(source.calls, 0);
    await engine.stop();
  });
});

describe('data-source failures', () => {
  it('rejects with ERR_DATASOURCE_FAILED carrying the original error, and never caches the failure', async () => {
    const source = switchableSource();
    source.mode = 'fail';
    const engine = await startEngine({ dataSource: source });
    const error = await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    assert.equal((error.cause as Error).message, 'database down (a)');
    source.mode = 'ok';
    assert.equal(text((await engine.get('ks', 'a'))?.value), 'value:a');
    assert.deepEqual([engine.stats('ks').loads, engine.stats('ks').loadErrors], [2, 1]);
    await engine.stop();
  });

  it('a data source returning the wrong type is ERR_DATASOURCE_FAILED, not a corrupted store', async () => {
    const engine = await startEngine({ dataSource: { fetch: async () => 'a string' as unknown as Uint8Array } });
    const error = await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    assert.equal((error.cause as DistCacheError).code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(engine.stats('ks').entries, 0);
    await engine.stop();
  });

  it('a data source that throws synchronously is ERR_DATASOURCE_FAILED', async () => {
    const engine = await startEngine({
      dataSource: {
        fetch: () => {
          throw new TypeError('sync bug');
        },
      },
    });
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    await engine.stop();
  });

  it('times out after readTimeout with ERR_TIMEOUT and aborts the signal given to fetch', async () => {
    let seenSignal: AbortSignal | undefined;
    const engine = await startEngine({
      readTimeout: 30,
      dataSource: {
        fetch: (_key, { signal }) => {
          seenSignal = signal;
          return new Promise<Uint8Array>(() => {}); // never answers
        },
      },
    });
    const started = Date.now();
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.TIMEOUT);
    assert.ok(Date.now() - started < 1_000);
    assert.equal(seenSignal?.aborted, true);
    assert.equal((seenSignal?.reason as DistCacheError).code, ErrorCode.TIMEOUT);
    assert.equal(engine.stats('ks').entries, 0);
    await engine.stop();
  });
});

describe('circuit breaker', () => {
  it('opens after failureThreshold consecutive failures and then refuses without calling the data source', async () => {
    const source = switchableSource();
    source.mode = 'fail';
    const engine = await startEngine({
      dataSource: source,
      circuitBreaker: { failureThreshold: 3, resetTimeout: 60_000 },
    });
    for (let i = 0; i < 3; i++) await rejectsWithCode(engine.get('ks', `k${i}`), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await rejectsWithCode(engine.get('ks', 'k9'), ErrorCode.DATASOURCE_CIRCUIT_OPEN);
    assert.equal(source.calls, 3);
    assert.equal(engine.stats('ks').rejectedLoads, 1);
    await engine.stop();
  });

  it('counts consecutive failures: a success in between resets the count', async () => {
    const source = switchableSource();
    const engine = await startEngine({
      dataSource: source,
      circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 },
    });
    source.mode = 'fail';
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    source.mode = 'ok';
    await engine.get('ks', 'b');
    source.mode = 'fail';
    await rejectsWithCode(engine.get('ks', 'c'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'closed');
    await engine.stop();
  });

  it('half-opens after resetTimeout, lets a single probe through, and closes when it succeeds', async () => {
    const source = switchableSource();
    source.mode = 'fail';
    const engine = await startEngine({ dataSource: source, circuitBreaker: { failureThreshold: 1, resetTimeout: 50 } });
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await sleep(80);
    assert.equal(engine.stats('ks').breakerState, 'half-open');
    source.mode = 'ok';
    source.delayMs = 30;
    const callsBefore = source.calls;
    const [probe, second] = await Promise.allSettled([engine.get('ks', 'p1'), engine.get('ks', 'p2')]);
    assert.equal(probe.status, 'fulfilled');
    assert.equal(second.status, 'rejected');
    assert.equal((second as PromiseRejectedResult).reason.code, ErrorCode.DATASOURCE_CIRCUIT_OPEN);
    assert.equal(source.calls - callsBefore, 1, 'only the probe reached the data source');
    assert.equal(engine.stats('ks').breakerState, 'closed');
    assert.equal(text((await engine.get('ks', 'p2'))?.value), 'value:p2');
    await engine.stop();
  });

  it('re-opens when the half-open probe fails', async () => {
    const source = switchableSource();
    source.mode = 'fail';
    const engine = await startEngine({ dataSource: source, circuitBreaker: { failureThreshold: 1, resetTimeout: 40 } });
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    await sleep(60);
    await rejectsWithCode(engine.get('ks', 'b'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await rejectsWithCode(engine.get('ks', 'c'), ErrorCode.DATASOURCE_CIRCUIT_OPEN);
    await engine.stop();
  });

  it('the engine default breaker applies to keyspaces, and circuitBreaker: false turns it off', async () => {
    const source = switchableSource();
    source.mode = 'fail';
    const engine = await startEngine(
      { dataSource: source, circuitBreaker: false },
      { circuitBreaker: { failureThreshold: 1 } },
    );
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'disabled');
    await engine.updateKeySpace({ name: 'ks', maxBytes: 1024, dataSource: source });
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await engine.stop();
  });
});

describe('rate limiter', () => {
  it('lets a burst through, then refuses with ERR_DATASOURCE_RATE_LIMITED without calling the data source', async () => {
    const source = countingSource();
    const engine = await startEngine({
      dataSource: source,
      rateLimit: { requestsPerSecond: 1, burst: 3, waitTimeout: 0 },
    });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => engine.get('ks', `k${i}`)));
    const codes = results.map((result) =>
      result.status === 'fulfilled' ? 'ok' : (result.reason as DistCacheError).code,
    );
    assert.deepEqual(codes.filter((code) => code === 'ok').length, 3);
    assert.deepEqual(codes.filter((code) => code === ErrorCode.DATASOURCE_RATE_LIMITED).length, 3);
    assert.equal(source.calls, 3);
    assert.equal(engine.stats('ks').rejectedLoads, 3);
    await engine.stop();
  });

  it('a load that gets a slot within waitTimeout waits for it and succeeds', async () => {
    const source = countingSource();
    const engine = await startEngine({
      dataSource: source,
      rateLimit: { requestsPerSecond: 20, burst: 1, waitTimeout: 500 },
    });
    const started = Date.now();
    const results = await Promise.all(['a', 'b', 'c'].map((key) => engine.get('ks', key)));
    assert.deepEqual(
      results.map((result) => text(result?.value)),
      ['value:a', 'value:b', 'value:c'],
    );
    assert.ok(Date.now() - started >= 60, 'the 2nd and 3rd load waited for tokens at 20/s');
    await engine.stop();
  });

  it('limits data-source calls, not gets: concurrent gets of one key share one token', async () => {
    const source = countingSource(10);
    const engine = await startEngine({
      dataSource: source,
      rateLimit: { requestsPerSecond: 1, burst: 1, waitTimeout: 0 },
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => engine.get('ks', 'same')));
    assert.ok(results.every((result) => text(result?.value) === 'value:same'));
    assert.equal(source.calls, 1);
    await engine.stop();
  });
});

describe('staleIfError and negativeTtl', () => {
  it('serves an expired value marked stale when the reload fails', async () => {
    const source = switchableSource();
    const engine = await startEngine({ dataSource: source, defaultTtl: 20, staleIfError: 5_000 });
    await engine.get('ks', 'a');
    await sleep(30);
    source.mode = 'fail';
    assert.deepEqual(await engine.get('ks', 'a'), { key: 'a', value: bytes('value:a'), stale: true });
    assert.equal(engine.stats('ks').staleServed, 1);
    await engine.stop();
  });

  it('serves stale while the breaker is open, and not beyond the staleIfError window', async () => {
    const source = switchableSource();
    const engine = await startEngine({
      dataSource: source,
      defaultTtl: 20,
      staleIfError: 80,
      circuitBreaker: { failureThreshold: 1, resetTimeout: 60_000 },
    });
    await engine.get('ks', 'a');
    source.mode = 'fail';
    await rejectsWithCode(engine.get('ks', 'other'), ErrorCode.DATASOURCE_FAILED);
    assert.equal(engine.stats('ks').breakerState, 'open');
    await sleep(30);
    assert.equal((await engine.get('ks', 'a'))?.stale, true);
    await sleep(90);
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_CIRCUIT_OPEN);
    await engine.stop();
  });

  it('without staleIfError an expired value is never served after a failed reload', async () => {
    const source = switchableSource();
    const engine = await startEngine({ dataSource: source, defaultTtl: 20 });
    await engine.get('ks', 'a');
    await sleep(30);
    source.mode = 'fail';
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.DATASOURCE_FAILED);
    await engine.stop();
  });

  it('negativeTtl caches "does not exist" answers for that long', async () => {
    const source = countingSource(0, () => null);
    const engine = await startEngine({ dataSource: source, negativeTtl: 40 });
    assert.equal(await engine.get('ks', 'ghost'), undefined);
    assert.equal(await engine.get('ks', 'ghost'), undefined);
    assert.equal(source.calls, 1);
    await sleep(55);
    await engine.get('ks', 'ghost');
    assert.equal(source.calls, 2);
    await engine.stop();
  });

  it('an ifAbsent put of a key cached as "does not exist" writes it', async () => {
    const engine = await startEngine({ dataSource: countingSource(0, () => null), negativeTtl: 60_000 });
    assert.equal(await engine.get('ks', 'ghost'), undefined);
    assert.equal(await engine.put('ks', { key: 'ghost', value: bytes('now here') }, { ifAbsent: true }), true);
    assert.deepEqual((await engine.get('ks', 'ghost'))?.value, bytes('now here'));
    assert.equal(await engine.put('ks', { key: 'ghost', value: bytes('again') }, { ifAbsent: true }), false);
    await engine.stop();
  });

  it('without negativeTtl every get of a missing key asks the data source', async () => {
    const source = countingSource(0, () => null);
    const engine = await startEngine({ dataSource: source });
    await engine.get('ks', 'ghost');
    await engine.get('ks', 'ghost');
    assert.equal(source.calls, 2);
    await engine.stop();
  });
});
