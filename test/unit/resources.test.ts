import assert from 'node:assert/strict';
import { get } from 'node:http';
import { it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { countingSource, sleep, startEngine } from '../helpers/engine.js';
import { trackTimers } from '../helpers/timers.js';

it('stop() leaves no timer behind: breaker, limiter, read timeouts and TTLs are all released', async () => {
  await nextTurn();
  const timers = trackTimers();
  let fail = false;
  const source = countingSource(1, (key) => {
    if (fail) throw new Error(`down: ${key}`);
    return new Uint8Array(8);
  });
  const engine = await startEngine(
    { dataSource: source, defaultTtl: 60_000, staleIfError: 1_000 },
    {
      circuitBreaker: { failureThreshold: 1, resetTimeout: 60_000 },
      rateLimit: { requestsPerSecond: 100, burst: 10, waitTimeout: 100 },
    },
  );
  await Promise.all(Array.from({ length: 20 }, (_, i) => engine.get('ks', `k${i % 5}`)));
  fail = true;
  await rejectsWithCode(engine.get('ks', 'new'), ErrorCode.DATASOURCE_FAILED);
  assert.equal(engine.stats('ks').breakerState, 'open', 'the breaker holds a reset timer now');
  assert.ok(timers.live() > 0, 'the running engine holds timers');
  await engine.stop();
  await sleep(5);
  await nextTurn(); // destroy hooks are delivered asynchronously
  timers.stop();
  assert.equal(timers.live(), 0);
});

it('stop() also closes the admin server: no listening or accepted socket is left', async () => {
  await nextTurn();
  // Sockets only: Node's http module and fetch keep process-wide timers of their own (the Date header cache, undici's clock).
  const sockets = trackTimers(['TCPSERVERWRAP', 'TCPWRAP']);
  const engine = await startEngine({ dataSource: countingSource() }, { admin: { listen: '127.0.0.1:0' } });
  await engine.get('ks', 'a');
  const status = await new Promise<number>((resolve, reject) =>
    get(
      `${engine.adminUrl()}/metrics`,
      { agent: false },
      (response) => (response.resume(), resolve(response.statusCode!)),
    ).on('error', reject),
  );
  assert.equal(status, 200);
  assert.ok(sockets.live() > 0, 'the running admin server holds a listening socket');
  await engine.stop();
  await sleep(5);
  await nextTurn();
  sockets.stop();
  assert.equal(sockets.live(), 0);
});
