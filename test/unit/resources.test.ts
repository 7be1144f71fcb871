import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { countingSource, sleep, startEngine } from '../helpers/engine.js';

const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

it('stop() leaves no timer behind: breaker, limiter, read timeouts and TTLs are all released', async () => {
  await nextTurn();
  const baseline = timers();
  let fail = false;
  const source = countingSource(1, (key) => {
    if (fail) throw new Error(`down: ${key}`);
    return new Uint8Array(8);
  });
  const engine = await startEngine(
    { dataSource: source, defaultTtl: 60_000, staleIfError: 1_000 },
    { circuitBreaker: { failureThreshold: 1, resetTimeout: 60_000 }, rateLimit: { requestsPerSecond: 100, burst: 10, waitTimeout: 100 } },
  );
  await Promise.all(Array.from({ length: 20 }, (_, i) => engine.get('ks', `k${i % 5}`)));
  fail = true;
  await rejectsWithCode(engine.get('ks', 'new'), ErrorCode.DATASOURCE_FAILED);
  assert.equal(engine.stats('ks').breakerState, 'open', 'the breaker holds a reset timer now');
  assert.ok(timers() > baseline, 'the running engine holds timers');
  await engine.stop();
  await sleep(5);
  assert.equal(timers(), baseline);
});
