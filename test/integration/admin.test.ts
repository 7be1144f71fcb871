import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { after, describe, it } from 'node:test';
import { Engine, ErrorCode, type Logger } from '../../src/index.js';
import { parseSessionAddress } from '../../src/protocol/address.js';
import { DcClient } from '../../src/protocol/client.js';
import { encodeAddRequest, Operation } from '../../src/protocol/codec.js';
import { rejectsWithCode, throwsWithCode } from '../helpers/assert-code.js';
import { TestCa } from '../helpers/certs.js';
import { bytes, countingSource, silentLogger, sleep, startEngine } from '../helpers/engine.js';
import { sample } from '../helpers/metrics.js';

const TOKEN = 'admin-token-0123456789';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the endpoints answer JSON of many shapes
type JsonBody = any;

async function call(
  engine: Engine,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: JsonBody; type: string | null }> {
  const response = await fetch(engine.adminUrl() + path, init);
  const type = response.headers.get('content-type');
  const textBody = await response.text();
  return {
    status: response.status,
    type,
    body: type?.startsWith('application/json') ? JSON.parse(textBody) : textBody,
  };
}

describe('the admin HTTP server', () => {
  const engines: Engine[] = [];
  after(async () => {
    await Promise.all(engines.map((engine) => engine.stop()));
  });
  const start = async (
    options: Parameters<typeof startEngine>[1] = {},
    keyspace: Parameters<typeof startEngine>[0] = {},
  ) => {
    const engine = await startEngine(
      { dataSource: countingSource(), ...keyspace },
      { admin: { listen: '127.0.0.1:0', token: TOKEN }, ...options },
    );
    engines.push(engine);
    return engine;
  };

  it('is off by default, and binds loopback when on', async () => {
    const plain = await startEngine({});
    assert.equal(plain.adminUrl(), undefined);
    await plain.stop();
    const engine = await start();
    assert.match(engine.adminUrl()!, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers /health and /ready with 200 while running, and /ready 503 once stopping', async () => {
    const engine = await start({ shutdownTimeout: 2_000 }, { dataSource: countingSource(600) });
    assert.deepEqual((await call(engine, '/health')).body, {
      status: 'ok',
      state: 'running',
      ready: true,
      members: 1,
      quorum: 1,
    });
    assert.equal((await call(engine, '/ready')).status, 200);
    const slow = engine.get('ks', 'slow');
    await sleep(20);
    const stopping = engine.stop();
    const ready = await call(engine, '/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.state, 'stopping');
    assert.equal((await call(engine, '/health')).status, 200, 'alive while draining');
    await slow;
    await stopping;
  });

  it('lists keyspaces with their settings and stats, one keyspace by name, and never a data source', async () => {
    const engine = await start();
    await engine.get('ks', 'a');
    await engine.get('ks', 'a');
    const all = await call(engine, '/keyspaces');
    assert.equal(all.status, 200);
    assert.equal(all.body.length, 1);
    const one = await call(engine, '/keyspaces/ks');
    assert.equal(one.body.name, 'ks');
    assert.equal(one.body.config.maxBytes, 1 << 20);
    assert.equal(one.body.config.dataSource, true);
    assert.equal(one.body.stats.hits, 1);
    assert.equal(one.body.stats.misses, 1);
    assert.equal(one.body.stats.entries, 1);
    assert.ok(!JSON.stringify(all.body).includes('fetch'));
  });

  it('deletes a key and a keyspace only with the bearer token', async () => {
    const engine = await start();
    await engine.put('ks', { key: 'a/b', value: bytes('x') });
    const refused = await call(engine, '/keyspaces/ks/keys/a%2Fb', { method: 'DELETE' });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, ErrorCode.UNAUTHORIZED);
    const wrong = await call(engine, '/keyspaces/ks/keys/a%2Fb', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    assert.equal(wrong.status, 401);
    const deleted = await call(engine, '/keyspaces/ks/keys/a%2Fb', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.deepEqual(deleted.body, { keyspace: 'ks', key: 'a/b', deleted: true });
    assert.equal(engine.stats('ks').entries, 0);
    const dropped = await call(engine, '/keyspaces/ks', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(dropped.status, 200);
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.KEYSPACE_NOT_FOUND);
  });

  it('answers bad requests with 4xx JSON errors carrying the library codes', async () => {
    const engine = await start();
    const cases: [string, RequestInit, number, string][] = [
      ['/nope', {}, 404, ErrorCode.NOT_FOUND],
      ['/keyspaces/missing', {}, 404, ErrorCode.KEYSPACE_NOT_FOUND],
      ['/owner?keyspace=ks', {}, 400, ErrorCode.INVALID_ARGUMENT],
      ['/owner?keyspace=missing&key=a', {}, 404, ErrorCode.KEYSPACE_NOT_FOUND],
      ['/%E0%A4%A', {}, 400, ErrorCode.INVALID_ARGUMENT],
      ['/peers', { method: 'POST' }, 405, ErrorCode.METHOD_NOT_ALLOWED],
      ['/keyspaces/ks/keys/a', { method: 'GET' }, 405, ErrorCode.METHOD_NOT_ALLOWED],
      [`/${'x'.repeat(5_000)}`, {}, 400, ErrorCode.INVALID_ARGUMENT],
    ];
    for (const [path, init, status, code] of cases) {
      const reply = await call(engine, path, init);
      assert.equal(reply.status, status, path);
      assert.equal(reply.body.error.code, code, path);
    }
  });

  it('exports Prometheus metrics: requests by outcome, data-source latency, breaker transitions, store bytes, session operations', async () => {
    let failing = false;
    const engine = await start(
      { sessionCache: { listen: ['IP:127.0.64.2:4120'] } },
      {
        dataSource: {
          fetch: async (key: string) =>
            failing ? Promise.reject(new Error('down')) : key === 'none' ? undefined : bytes(`v:${key}`),
        },
        circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 },
      },
    );
    await engine.get('ks', 'a');
    await engine.get('ks', 'a');
    await engine.get('ks', 'none');
    failing = true;
    for (const key of ['f1', 'f2', 'f3']) await engine.get('ks', key).catch(() => undefined);
    const client = new DcClient(parseSessionAddress(engine.sessionAddresses()[0]!));
    await client.request(Operation.ADD, encodeAddRequest(60_000, bytes('id-1'), bytes('session')));
    await client.request(Operation.GET, bytes('id-1'));
    await client.request(Operation.HAVE, bytes('id-2'));
    client.close();

    const metrics = await call(engine, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.type!, /^text\/plain; version=0\.0\.4/);
    const text = metrics.body as string;
    assert.equal(sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="hit"}'), 1);
    assert.equal(sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="miss"}'), 1);
    assert.equal(sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="not_found"}'), 1);
    assert.equal(
      sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="ERR_DATASOURCE_FAILED"}'),
      2,
    );
    assert.equal(
      sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="ERR_DATASOURCE_CIRCUIT_OPEN"}'),
      1,
    );
    assert.equal(
      sample(text, 'distcache_request_duration_seconds_count{keyspace="ks",operation="get",outcome="miss"}'),
      1,
      'every waiting get is timed',
    );
    assert.equal(sample(text, 'distcache_datasource_duration_seconds_count{keyspace="ks",outcome="found"}'), 1);
    assert.equal(
      sample(text, 'distcache_datasource_duration_seconds_count{keyspace="ks",outcome="ERR_DATASOURCE_FAILED"}'),
      2,
    );
    assert.equal(sample(text, 'distcache_breaker_transitions_total{keyspace="ks",state="open"}'), 1);
    assert.equal(sample(text, 'distcache_breaker_state{keyspace="ks",state="open"}'), 1);
    assert.equal(sample(text, 'distcache_store_bytes{keyspace="ks"}'), engine.stats('ks').bytes);
    assert.equal(sample(text, 'distcache_store_entries{keyspace="ks"}'), engine.stats('ks').entries);
    assert.equal(sample(text, 'distcache_session_operations_total{operation="ADD",status="OK"}'), 1);
    assert.equal(sample(text, 'distcache_session_operations_total{operation="GET",status="FOUND"}'), 1);
    assert.equal(sample(text, 'distcache_session_operations_total{operation="HAVE",status="NOTOK"}'), 1);
  });

  it('exports store evictions as a counter that follows the store, also across updateKeySpace', async () => {
    const engine = await start({}, { maxBytes: 4_096, dataSource: undefined });
    const evictions = async () => {
      const text = (await call(engine, '/metrics')).body as string;
      assert.match(text, /# TYPE distcache_store_evictions_total counter/);
      return sample(text, 'distcache_store_evictions_total{keyspace="ks"}');
    };
    for (let i = 0; i < 40; i++) await engine.put('ks', { key: `k${i}`, value: new Uint8Array(200) });
    const first = engine.stats('ks').evictions;
    assert.ok(first > 0);
    assert.equal(await evictions(), first);
    for (let i = 40; i < 60; i++) await engine.put('ks', { key: `k${i}`, value: new Uint8Array(200) });
    assert.ok(engine.stats('ks').evictions > first);
    const beforeUpdate = engine.stats('ks').evictions;
    assert.equal(await evictions(), beforeUpdate);
    await engine.updateKeySpace({ name: 'ks', maxBytes: 4_096 }); // a new store, counting from zero
    for (let i = 0; i < 30; i++) await engine.put('ks', { key: `u${i}`, value: new Uint8Array(200) });
    assert.ok(engine.stats('ks').evictions > 0);
    assert.equal(await evictions(), beforeUpdate + engine.stats('ks').evictions);
  });

  it('counts every hit and times one in 1024 of them', async () => {
    const engine = await start();
    await engine.get('ks', 'a');
    for (let i = 0; i < 4_096; i++) await engine.get('ks', 'a');
    const text = (await call(engine, '/metrics')).body as string;
    assert.equal(sample(text, 'distcache_requests_total{keyspace="ks",operation="get",outcome="hit"}'), 4_096);
    const timed = sample(text, 'distcache_request_duration_seconds_count{keyspace="ks",operation="get",outcome="hit"}');
    assert.ok(timed !== undefined && timed >= 3 && timed <= 5, `timed ${timed} hits`);
  });

  it('serves the dashboard page, self-contained (no external URL)', async () => {
    const engine = await start();
    const page = await call(engine, '/');
    assert.equal(page.status, 200);
    assert.match(page.type!, /^text\/html/);
    assert.match(page.body, /<title>distcache<\/title>/);
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//);
  });

  it('serves HTTPS with admin.tls', async () => {
    const ca = new TestCa('admin');
    const files = ca.issue('admin', ['127.0.0.1']);
    const engine = await start({
      admin: { listen: '127.0.0.1:0', tls: { key: readFileSync(files.key), cert: readFileSync(files.cert) } },
    });
    assert.match(engine.adminUrl()!, /^https:/);
    const agent = new Agent({ ca: readFileSync(ca.ca.cert) });
    const status = await new Promise<number>((resolve, reject) =>
      httpsRequest(
        engine.adminUrl() + '/health',
        { agent },
        (response) => (response.resume(), resolve(response.statusCode!)),
      )
        .on('error', reject)
        .end(),
    );
    assert.equal(status, 200);
    agent.destroy();
  });

  it('refuses a bad admin option with ERR_INVALID_CONFIG, and a port in use at start', async () => {
    for (const admin of [
      { listen: 'nowhere' },
      { listen: '127.0.0.1:70000' },
      { token: 'short' },
      { listen: '127.0.0.1:0', extra: true },
    ]) {
      throwsWithCode(() => new Engine({ keyspaces: [], admin: admin as never }), ErrorCode.INVALID_CONFIG);
    }
    const first = await start();
    const port = new URL(first.adminUrl()!).port;
    const second = new Engine({ logger: silentLogger, keyspaces: [], admin: { listen: `127.0.0.1:${port}` } });
    await rejectsWithCode(second.start(), ErrorCode.INVALID_CONFIG);
  });

  it('logs nothing per cache hit', async () => {
    const lines: string[] = [];
    const record = (level: string) => (_fields: object, message: string) => void lines.push(`${level}: ${message}`);
    const logger: Logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const engine = await start({ logger });
    await engine.get('ks', 'a');
    const before = lines.length;
    for (let i = 0; i < 1_000; i++) await engine.get('ks', 'a');
    assert.equal(lines.length, before, lines.slice(before).join('\n'));
  });
});
