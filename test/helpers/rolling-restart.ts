import type { ChurnReport } from './churn-load.js';
import { sequenceOf } from './churn-load.js';
import type { NodeConfig } from './cluster-node.js';
import { ClusterNode, startCluster, stopCluster, waitForAdmitted } from './cluster.js';

/** Issue 15 §3's rolling restart, as the test asserts it and bench/churn.ts records it. */
export interface RollingRestartOptions {
  /** Addresses `<ipPrefix>.2` and up: the servers, then the client. */
  readonly ipPrefix: string;
  /** Nodes restarted one at a time. */
  readonly servers: number;
  readonly hotKeys: number;
  readonly writtenKeys: number;
  /** Client loops running gets and puts. */
  readonly concurrency: number;
  /** Share of the client's operations that are puts. */
  readonly putShare: number;
  readonly node?: Partial<NodeConfig>;
}

export interface RollingRestartReport {
  readonly gets: number;
  readonly failedGets: ChurnReport['failedGets'];
  readonly puts: number;
  readonly failedPuts: number;
  /** Written keys with at least one acknowledged put. */
  readonly writtenKeys: number;
  /** Reads after the rollout, on every node, of a written key that returned a value older than its last acknowledged put. */
  readonly lostWrites: { node: string; key: string; got: string | null; acknowledged: number }[];
  /** Gets during the rollout that returned a value older than a put acknowledged before they began. */
  readonly staleReads: ChurnReport['staleReads'];
  readonly hotKeys: number;
  /** Data-source calls for hot keys during the rollout, every process counted. */
  readonly hotKeyLoads: number;
  readonly rolloutMs: number;
  /** Per restart: SIGTERM to exit, and start to admitted by every node. */
  readonly restarts: { node: string; stopMs: number; admittedMs: number }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Data-source calls of `keys` a node made so far. */
async function loadsOf(node: ClusterNode, keys: ReadonlySet<string>): Promise<number> {
  const loads = await node.send<Record<string, number>>({ cmd: 'loads' });
  return Object.entries(loads).reduce((sum, [key, count]) => sum + (keys.has(key) ? count : 0), 0);
}

/**
 * Starts `servers` nodes and a client node (a member that is not
 * restarted) with replicaCount 2 and no hot copies, warms the hot keys,
 * then restarts each server in turn (SIGTERM, a new process, every node
 * admits it) while the client runs gets and puts; afterwards reads every
 * written key on every node.
 */
export async function rollingRestart(options: RollingRestartOptions): Promise<RollingRestartReport> {
  const nodeConfig: Partial<NodeConfig> = { replicaCount: 2, hotCache: false, ...options.node };
  const nodes = await startCluster(options.ipPrefix, options.servers + 1, nodeConfig);
  const client = nodes[options.servers]!;
  const hotKeys = Array.from({ length: options.hotKeys }, (_, i) => `hot-${i}`);
  const writtenKeys = Array.from({ length: options.writtenKeys }, (_, i) => `written-${i}`);
  const hot = new Set(hotKeys);
  try {
    await client.send({ cmd: 'getMany', keys: hotKeys });
    let hotKeyLoads = -(await Promise.all(nodes.map((node) => loadsOf(node, hot)))).reduce((a, b) => a + b, 0);
    await client.send({
      cmd: 'churn',
      hotKeys,
      writtenKeys,
      concurrency: options.concurrency,
      putShare: options.putShare,
    });
    await sleep(1_000);
    const restarts: RollingRestartReport['restarts'] = [];
    const rolloutStarted = Date.now();
    for (let index = 0; index < options.servers; index++) {
      const old = nodes[index]!;
      hotKeyLoads += await loadsOf(old, hot);
      const stopping = Date.now();
      old.signal('SIGTERM');
      await old.exited();
      const stopMs = Date.now() - stopping;
      const starting = Date.now();
      const restarted = new ClusterNode(old.config);
      nodes[index] = restarted;
      await restarted.started;
      await waitForAdmitted(nodes, nodes.length, 30_000);
      restarts.push({ node: old.id, stopMs, admittedMs: Date.now() - starting });
    }
    const rolloutMs = Date.now() - rolloutStarted;
    await sleep(1_000);
    const churn = await client.send<ChurnReport>({ cmd: 'churnStop' });
    hotKeyLoads += (await Promise.all(nodes.map((node) => loadsOf(node, hot)))).reduce((a, b) => a + b, 0);
    const written = Object.keys(churn.acknowledged);
    const lostWrites: RollingRestartReport['lostWrites'] = [];
    for (const node of nodes) {
      const values = await node.send<(string | null)[]>({ cmd: 'getMany', keys: written });
      for (const [i, key] of written.entries()) {
        const got = values[i] ?? null;
        if (sequenceOf(got) < churn.acknowledged[key]!)
          lostWrites.push({ node: node.id, key, got, acknowledged: churn.acknowledged[key]! });
      }
    }
    return {
      gets: churn.gets,
      failedGets: churn.failedGets,
      puts: churn.puts,
      failedPuts: churn.failedPuts.length,
      writtenKeys: written.length,
      lostWrites,
      staleReads: churn.staleReads,
      hotKeys: hotKeys.length,
      hotKeyLoads,
      rolloutMs,
      restarts,
    };
  } finally {
    await stopCluster(nodes);
  }
}
