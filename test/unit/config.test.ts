import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveEngineConfig } from '../../src/config.js';
import { Engine, ErrorCode, type EngineOptions } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { silentLogger } from '../helpers/engine.js';

const build = (options: unknown) => () => new Engine(options as EngineOptions);
const keyspace = (extra: Record<string, unknown>) => ({
  logger: silentLogger,
  keyspaces: [{ name: 'users', maxBytes: 1024, ...extra }],
});

describe('config validation', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a negative maxBytes', keyspace({ maxBytes: -1 }), /keyspaces\[0\] \("users"\)\.maxBytes: .*got -1/],
    ['a fractional maxBytes', keyspace({ maxBytes: 1.5 }), /maxBytes: .*got 1\.5/],
    ['a misspelt option', keyspace({ maxbytes: 10 }), /Unrecognized key: "maxbytes"/],
    ['a data source without fetch', keyspace({ dataSource: {} }), /dataSource: must be an object with a fetch/],
    [
      'a rate limit of zero',
      keyspace({ rateLimit: { requestsPerSecond: 0 } }),
      /rateLimit\.requestsPerSecond: .*got 0/,
    ],
    [
      'a breaker threshold of zero',
      keyspace({ circuitBreaker: { failureThreshold: 0 } }),
      /circuitBreaker\.failureThreshold: .*got 0/,
    ],
    ['a timeout beyond setTimeout', keyspace({ readTimeout: 2 ** 31 }), /readTimeout: .*got 2147483648/],
    [
      'a codec without decode',
      keyspace({ codec: { encode: () => new Uint8Array() } }),
      /codec: must be an object with encode/,
    ],
    [
      'a keyspace replicaCount of zero',
      keyspace({ replicaCount: 0 }),
      /keyspaces\[0\] \("users"\)\.replicaCount: .*got 0/,
    ],
    ['a replicaReads that is not a boolean', keyspace({ replicaReads: 'yes' }), /replicaReads: .*got "yes"/],
    [
      'a replication mode other than sync or async',
      keyspace({ replication: 'eventual' }),
      /keyspaces\[0\] \("users"\)\.replication: must be "sync" or "async", got "eventual"/,
    ],
    ['a replication mode that is not a string', keyspace({ replication: true }), /replication: .*got true/],
    [
      'a fetchMany that is not a function',
      keyspace({ dataSource: { fetch: () => undefined, fetchMany: 'all' } }),
      /dataSource: must be an object with a fetch.*optionally a fetchMany/,
    ],
    ['a maxBatch of zero', keyspace({ maxBatch: 0 }), /maxBatch: .*got 0/],
    ['a maxBatch above 10,000', keyspace({ maxBatch: 10_001 }), /maxBatch: .*got 10001/],
    ['a refreshAhead of a whole TTL', keyspace({ refreshAhead: 1 }), /refreshAhead: .*got 1/],
    ['a negative staleWhileRevalidate', keyspace({ staleWhileRevalidate: -5 }), /staleWhileRevalidate: .*got -5/],
    ['a ttlJitter of 150%', keyspace({ ttlJitter: 1.5 }), /ttlJitter: .*got 1\.5/],
    ['a bad keyspace name', keyspace({ name: 'has space' }), /name: must be 1-128 letters/],
    ['keyspaces that are not an array', { keyspaces: 'users' }, /keyspaces: .*got "users"/],
    ['no options at all', undefined, /engine options: .*got undefined/],
    ['a bad engine readTimeout', { keyspaces: [], readTimeout: 'fast' }, /engine options\.readTimeout: .*got "fast"/],
    ['a logger without levels', { keyspaces: [], logger: console.log }, /logger: must be a pino-compatible logger/],
    [
      'the heartbeat option SWIM replaced',
      { keyspaces: [], membership: { heartbeatInterval: 500 } },
      /membership\.heartbeatInterval: was replaced by probeInterval/,
    ],
    [
      'a probe timeout as long as the probe interval',
      { keyspaces: [], membership: { probeTimeout: 1_000, probeInterval: 1_000 } },
      /membership: probeTimeout \(1000 ms\) must be shorter than probeInterval \(1000 ms\)/,
    ],
    [
      'a probe timeout longer than the default probe interval',
      { keyspaces: [], membership: { probeTimeout: 1_000 } },
      /probeTimeout \(1000 ms\) must be shorter than probeInterval \(500 ms\)/,
    ],
    [
      'a suspicion multiplier of zero',
      { keyspaces: [], membership: { suspicionMultiplier: 0 } },
      /suspicionMultiplier: .*got 0/,
    ],
  ];
  for (const [what, options, message] of cases) {
    it(`rejects ${what} with ERR_INVALID_CONFIG naming the field and value`, () => {
      const error = throwsWithCode(build(options), ErrorCode.INVALID_CONFIG);
      assert.match(error.message, message);
    });
  }

  it('rejects two keyspaces of the same name', () => {
    const error = throwsWithCode(
      build({
        keyspaces: [
          { name: 'a', maxBytes: 1 },
          { name: 'a', maxBytes: 2 },
        ],
      }),
      ErrorCode.INVALID_CONFIG,
    );
    assert.match(error.message, /"a" is defined twice/);
  });

  it('rejects a discovery that is not a provider, and a short cluster key', () => {
    assert.match(
      throwsWithCode(build({ keyspaces: [], discovery: { name: 'dns' } }), ErrorCode.INVALID_CONFIG).message,
      /discovery: must implement the DiscoveryProvider interface/,
    );
    assert.match(
      throwsWithCode(build({ keyspaces: [], clusterKey: 'short' }), ErrorCode.INVALID_CONFIG).message,
      /clusterKey: must be at least 16 characters/,
    );
  });

  it('accepts a minimal keyspace and applies the documented defaults', async () => {
    const engine = new Engine({ logger: silentLogger, keyspaces: [{ name: 'users', maxBytes: 1024 }] });
    await engine.start();
    const stats = engine.stats('users');
    assert.deepEqual([stats.maxBytes, stats.breakerState, stats.limiterQueued], [1024, 'disabled', 0]);
    await engine.stop();
  });

  it('takes replication "sync" by default and "async" when asked, for the session keyspace too', () => {
    const replication = (options: Record<string, unknown>) =>
      resolveEngineConfig({ logger: silentLogger, ...options }).keyspaces.map((each) => each.replication);
    assert.deepEqual(replication({ keyspaces: [{ name: 'users', maxBytes: 1024 }] }), ['sync']);
    assert.deepEqual(replication({ keyspaces: [{ name: 'users', maxBytes: 1024, replication: 'async' }] }), ['async']);
    assert.deepEqual(replication({ keyspaces: [], sessionCache: { listen: ['IP:127.0.0.1:9001'] } }), ['sync']);
    assert.deepEqual(
      replication({
        keyspaces: [{ name: 'ssl-sessions', maxBytes: 1024, replicaReads: true, replication: 'async' }],
        sessionCache: { listen: ['IP:127.0.0.1:9001'] },
      }),
      ['async'],
    );
  });
});
