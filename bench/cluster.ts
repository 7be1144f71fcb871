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
import type { NodeConfig } from '../test/helpers/cluster-node.js';
import { startCluster, stopCluster, type ClusterNode } from '../test/helpers/cluster.js';
import { measureInFlight, report, row, type InFlightReport } from './harness.js';

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
const WARMUP_MS = 1_000;

/** A 2-node cluster whose first node reads keys the second owns and holds: every remote get is an owner hit. */
interface Pair {
  readonly nodes: [ClusterNode, ClusterNode];
  readonly remoteKeys: string[];
}

async function startPair(ipPrefix: string, extra: Partial<NodeConfig>): Promise<Pair> {
  const nodes = (await startCluster(ipPrefix, 2, { hotCache: false, valueBytes: VALUE_BYTES, ...extra })) as [
    ClusterNode,
    ClusterNode,
  ];
  const [reader, owner] = nodes;
  const remoteKeys = await reader.send<string[]>({ cmd: 'owned', keys, by: owner.id });
  await owner.send({ cmd: 'getMany', keys: remoteKeys });
  await remoteGets({ nodes, remoteKeys }, WARMUP_MS); // the JIT settles before a measured trial
  return { nodes, remoteKeys };
}

function remoteGets({ nodes, remoteKeys }: Pair, durationMs = TRIAL_MS): Promise<InFlightReport> {
  return nodes[0].send<InFlightReport>({ cmd: 'bench', keys: remoteKeys, durationMs, inFlight: IN_FLIGHT });
}

const perRound = (reports: InFlightReport[]) => reports.map((r) => Math.round(r.opsPerSecond)).join(', ');
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

const redis = await startRedis();
const value = Buffer.alloc(VALUE_BYTES, 7);
await Promise.all(keys.map((key) => redis.client.set(key, value)));
const running: ClusterNode[] = [];
try {
  // Two node processes settle into a speed of their own, steady for their lifetime but up to ±30%
  // from one pair to the next, so every round starts fresh pairs: the medians compare pairs, not luck.
  const samples: Record<'engine' | 'keyed' | 'redis', InFlightReport[]> = { engine: [], keyed: [], redis: [] };
  let plain: Pair | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const [unkeyed, keyed] = await Promise.all([
      startPair('127.0.41', {}),
      startPair('127.0.79', { clusterKey: CLUSTER_KEY }),
    ]);
    running.push(...unkeyed.nodes, ...keyed.nodes);
    samples.engine.push(await remoteGets(unkeyed));
    samples.keyed.push(await remoteGets(keyed));
    samples.redis.push(
      await measureInFlight((key) => redis.client.getBuffer(key), unkeyed.remoteKeys, TRIAL_MS, IN_FLIGHT),
    );
    await stopCluster(round < ROUNDS - 1 ? [...unkeyed.nodes, ...keyed.nodes] : keyed.nodes);
    plain = unkeyed;
  }
  const [a, b] = plain!.nodes;
  const remoteKeys = plain!.remoteKeys;
  const medians = {
    engine: median(samples.engine.map((r) => r.opsPerSecond)),
    keyed: median(samples.keyed.map((r) => r.opsPerSecond)),
    redis: median(samples.redis.map((r) => r.opsPerSecond)),
  };
  const medianP99 = (reports: InFlightReport[]) => median(reports.map((r) => r.p99));

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
      `clusterKey rows: 2 more node processes on 127.0.79.x with a clusterKey, so their peer port runs TLS 1.3 with a pre-shared key (TLS_AES_128_GCM_SHA256)`,
      `ops/s per round: plain ${perRound(samples.engine)}; clusterKey ${perRound(samples.keyed)}; redis ${perRound(samples.redis)}`,
      `each round starts both clusters afresh (a pair of processes keeps one speed for its lifetime, up to ±30% from the next pair's) and warms each up for ${WARMUP_MS / 1000} s; then one trial each of plain, clusterKey and redis`,
      `redis-server ${REDIS.host}:${REDIS.port} (no persistence), ioredis with ${IN_FLIGHT} GETs in flight from this process; median of ${ROUNDS} rounds of ${TRIAL_MS / 1000} s trials`,
      'failover: the owner is killed with SIGKILL while the other node reads its keys; gets fall back to the next node in rendezvous order, which loads from the data source',
    ],
  );
} finally {
  await stopCluster(running);
  await redis.stop();
}
