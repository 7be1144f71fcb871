/**
 * Cluster speed, side by side in one run on loopback (issue: cluster):
 * - remote get (non-owner → owner, owner hit, hot cache off) with 64 requests
 *   in flight and 1 KB values vs ioredis GET against a real redis-server;
 * - the same remote get in a second cluster with a clusterKey (the peer port
 *   runs TLS 1.3 keyed by it) vs the first, which has none;
 * - failover: time from kill -9 of the owner to the first successful get of
 *   one of its keys, and the errors meanwhile.
 *
 *   npm run bench:cluster     (needs redis-server on PATH; writes bench/results/cluster.json)
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { startCluster, stopCluster, type ClusterNode } from '../test/helpers/cluster.js';
import { interleavedMedians, measureInFlight, report, row, type InFlightReport } from './harness.js';

// Nodes run the compiled JavaScript (npm run bench:* compiles it first), as users run distcache.
process.env.DISTCACHE_NODE_SCRIPT ??= new URL('../dist-bench/test/helpers/cluster-node.js', import.meta.url).pathname;

const IN_FLIGHT = 64;
const VALUE_BYTES = 1024;
const TRIAL_MS = 4_000;
const ROUNDS = 5;
const REDIS = { host: '127.0.41.1', port: 6399 };
const CLUSTER_KEY = 'bench-cluster-key-0123456789abcdef';

async function startRedis() {
  const server = spawn(
    'redis-server',
    ['--bind', REDIS.host, '--port', String(REDIS.port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    setTimeout(resolve, 300);
  });
  const client = new Redis({ ...REDIS, lazyConnect: true, enableAutoPipelining: false });
  await client.connect();
  return { client, stop: async () => (client.disconnect(), server.kill('SIGKILL')) };
}

const keys = Array.from({ length: 4_000 }, (_, i) => `user:${i}`);
const redis = await startRedis();
const nodes = await startCluster('127.0.41', 2, { hotCache: false, valueBytes: VALUE_BYTES });
const keyedNodes = await startCluster('127.0.79', 2, {
  hotCache: false,
  valueBytes: VALUE_BYTES,
  clusterKey: CLUSTER_KEY,
});
const [a, b] = nodes as [ClusterNode, ClusterNode];
const [keyedA, keyedB] = keyedNodes as [ClusterNode, ClusterNode];

/** Keys `reader` must fetch from `owner`, already held by the owner: every remote get is an owner hit. */
async function remoteHits(reader: ClusterNode, owner: ClusterNode): Promise<string[]> {
  const remote = await reader.send<string[]>({ cmd: 'owned', keys, by: owner.id });
  await owner.send({ cmd: 'getMany', keys: remote });
  return remote;
}

try {
  const remoteKeys = await remoteHits(a, b);
  const keyedRemoteKeys = await remoteHits(keyedA, keyedB);
  const value = Buffer.alloc(VALUE_BYTES, 7);
  await Promise.all(remoteKeys.map((key) => redis.client.set(key, value)));

  const samples: Record<'engine' | 'keyed' | 'redis', InFlightReport[]> = { engine: [], keyed: [], redis: [] };
  const remoteGets = async (node: ClusterNode, remote: string[], into: InFlightReport[]) => {
    const result = await node.send<InFlightReport>({
      cmd: 'bench',
      keys: remote,
      durationMs: TRIAL_MS,
      inFlight: IN_FLIGHT,
    });
    into.push(result);
    return result.opsPerSecond;
  };
  const medians = await interleavedMedians(
    {
      engine: () => remoteGets(a, remoteKeys, samples.engine),
      keyed: () => remoteGets(keyedA, keyedRemoteKeys, samples.keyed),
      redis: async () => {
        const result = await measureInFlight((key) => redis.client.getBuffer(key), remoteKeys, TRIAL_MS, IN_FLIGHT);
        samples.redis.push(result);
        return result.opsPerSecond;
      },
    },
    ROUNDS,
  );
  const medianP99 = (reports: InFlightReport[]) =>
    reports.map((r) => r.p99).sort((x, y) => x - y)[Math.floor(reports.length / 2)]!;

  type LoadReport = { ok: number; errors: unknown[]; firstOkAfterMark?: number };
  const across = a.send<LoadReport>({ cmd: 'load', keys: remoteKeys, durationMs: 3_000, concurrency: IN_FLIGHT });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const killedAt = Date.now();
  b.signal('SIGKILL');
  const after = await a.send<LoadReport>({
    cmd: 'load',
    keys: remoteKeys,
    durationMs: 500,
    concurrency: 1,
    markAt: killedAt,
  });
  const outcome = await across;
  const recoveredMs = (after.firstOkAfterMark ?? Number.NaN) - killedAt;

  report(
    'cluster',
    [
      row(
        'remote get ops/s (non-owner → owner hit)',
        medians.engine,
        'ioredis GET, redis-server',
        medians.redis,
        'ops/s',
        { atLeast: 1.0 },
      ),
      row('remote get p99 latency', medianP99(samples.engine), 'ioredis GET p99', medianP99(samples.redis), 'ms', {
        atMost: 1.5,
      }),
      row(
        'remote get ops/s with clusterKey (TLS 1.3, PSK)',
        medians.keyed,
        'the same without clusterKey (plain TCP)',
        medians.engine,
        'ops/s',
        { atLeast: 0.7 },
      ),
      row(
        'remote get ops/s with clusterKey (TLS 1.3, PSK)',
        medians.keyed,
        'ioredis GET, redis-server',
        medians.redis,
        'ops/s',
        { atLeast: 1.0 },
      ),
      row(
        'remote get p99 latency with clusterKey',
        medianP99(samples.keyed),
        'the same without clusterKey',
        medianP99(samples.engine),
        'ms',
      ),
      row(
        'failover: kill -9 to first successful get of an affected key',
        recoveredMs,
        'detection budget (≤ 3 s)',
        3_000,
        'ms',
      ),
      row(
        'failover: failed gets during the window',
        outcome.errors.length,
        'gets served in the window',
        outcome.ok,
        'gets',
      ),
    ],
    [
      `2 node processes on 127.0.41.x, ${IN_FLIGHT} gets in flight from one node to keys the other owns, ${VALUE_BYTES}-byte values, hot cache off`,
      `clusterKey rows: 2 more node processes on 127.0.79.x with a clusterKey, so their peer port runs TLS 1.3 with a pre-shared key (TLS_AES_128_GCM_SHA256); both clusters run throughout and take turns`,
      `redis-server ${REDIS.host}:${REDIS.port} (no persistence), ioredis with ${IN_FLIGHT} GETs in flight from this process; median of ${ROUNDS} interleaved ${TRIAL_MS / 1000} s trials`,
      'failover: the owner is killed with SIGKILL while the other node reads its keys; gets fall back to the next node in rendezvous order, which loads from the data source',
    ],
  );
} finally {
  await stopCluster([...nodes, ...keyedNodes]);
  await redis.stop();
}
