import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeConfig } from '../helpers/cluster-node.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { sample } from '../helpers/metrics.js';

/** 3 nodes that each hold every key of `ks` and read their own copies, with async replication. */
const ASYNC: Partial<NodeConfig> = { replicaCount: 3, replicaReads: true, replication: 'async' };
/** Longer than an async write takes here, far shorter than a peer request's timeout (writeTimeout 5 s + 1 s). */
const PROMPT_MS = 1_500;

/** Runs `body` on 3 async nodes on `prefix`.2-4; stops them after, also on failure. */
async function withAsyncCluster(
  prefix: string,
  extra: Partial<NodeConfig>,
  body: (nodes: ClusterNode[]) => Promise<void>,
): Promise<void> {
  let nodes: ClusterNode[] = [];
  try {
    nodes = await startCluster(prefix, 3, { ...ASYNC, ...extra });
    await Promise.all(nodes.map(synced));
    await body(nodes);
  } finally {
    await stopCluster(nodes);
  }
}

/** Waits until `node` has no sync in progress (one runs after it joins), for at most 15 s. */
async function synced(node: ClusterNode): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const logs = await node.send<{ message: string }[]>({ cmd: 'logs' });
    const last = logs.findLast((line) => line.message.startsWith('syncing:') || line.message === 'sync done');
    if (last?.message === 'sync done') return;
    if (Date.now() > deadline) assert.fail(`${node.config.ip} still syncs after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `node`'s read of `key`, as text (the data source answers `v:<key>` for a key nobody put). */
async function read(node: ClusterNode, key: string): Promise<string | null> {
  return (await node.send<(string | null)[]>({ cmd: 'getMany', keys: [key] }))[0]!;
}

/** Polls `node` until it reads `expected` for `key`, for at most 5 s. */
async function eventuallyReads(node: ClusterNode, key: string, expected: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await read(node, key);
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${node.config.ip} reads ${JSON.stringify(last)} for ${key}, not ${JSON.stringify(expected)}, after 5 s`);
}

/** Resolves `work`'s result, or 'pending' when it takes longer than `ms`. */
function within<T>(ms: number, work: Promise<T>): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Runs `body` with `nodes` stopped (SIGSTOP), and continues them after, also on failure. */
async function whileStopped<T>(nodes: ClusterNode[], body: () => Promise<T>): Promise<T> {
  for (const node of nodes) node.signal('SIGSTOP');
  try {
    return await body();
  } finally {
    for (const node of nodes) node.signal('SIGCONT');
  }
}

describe('replication: async', () => {
  it('a put or ADD through an owner resolves while the other owners are stopped; they hold it once they run', async () => {
    await withAsyncCluster('127.0.150', {}, async ([first, ...others]) => {
      const outcomes = await whileStopped(others, async () => [
        await within(PROMPT_MS, first!.send({ cmd: 'put', key: 'put-key', value: 'written' })),
        await within(PROMPT_MS, first!.send({ cmd: 'add', key: 'add-key', value: 'added' })),
        await within(PROMPT_MS, first!.send({ cmd: 'add', key: 'add-key', value: 'refused' })),
      ]);
      assert.deepEqual(
        outcomes,
        [true, true, false],
        'put and ADD resolve on the owner alone; an ADD of a held id is refused there',
      );
      for (const node of others) {
        await eventuallyReads(node, 'put-key', 'written');
        await eventuallyReads(node, 'add-key', 'added');
        assert.equal(
          await node.send({ cmd: 'add', key: 'add-key', value: 'elsewhere' }),
          false,
          `${node.config.ip} refuses an ADD of the id it got a copy of`,
        );
      }
      assert.equal(await read(first!, 'add-key'), 'added', 'the refused ADDs changed nothing');
    });
  });

  it('a delete resolves on the owner alone and reaches the other owners', async () => {
    await withAsyncCluster('127.0.151', {}, async ([first, ...others]) => {
      await first!.send({ cmd: 'put', key: 'gone', value: 'before' });
      for (const node of others) await eventuallyReads(node, 'gone', 'before');
      const deleted = await whileStopped(others, () =>
        within(PROMPT_MS, first!.send<boolean>({ cmd: 'delete', key: 'gone' })),
      );
      assert.equal(deleted, true, 'the delete resolved on the owner while the others were stopped');
      // Once the put is gone, a read loads the data source's value.
      for (const node of others) await eventuallyReads(node, 'gone', 'v:gone');
    });
  });

  it('an owner speaking peer protocol 2 (no HANDOFF) gets the copies as plain writes, both ways', async () => {
    const nodes = await startCluster('127.0.160', 2, (ip) => ({
      ...ASYNC,
      ...(ip === '127.0.160.3' ? { peerProtocol: '2' } : {}),
    }));
    try {
      const [current, older] = nodes as [ClusterNode, ClusterNode];
      await current.send({ cmd: 'put', key: 'to-older', value: 'from current' });
      await eventuallyReads(older, 'to-older', 'from current');
      await older.send({ cmd: 'put', key: 'to-current', value: 'from older' });
      await eventuallyReads(current, 'to-current', 'from older');
      await current.send({ cmd: 'delete', key: 'to-older' });
      await eventuallyReads(older, 'to-older', 'v:to-older');
    } finally {
      await stopCluster(nodes);
    }
  });

  it('a stop that runs out of time with copies still waiting opens no connection after it', async () => {
    const nodes = await startCluster('127.0.161', 2, {
      ...ASYNC,
      writeTimeout: 2_000,
      shutdownTimeout: 300,
    });
    try {
      const [writer, stopped] = nodes as [ClusterNode, ClusterNode];
      await whileStopped([stopped], async () => {
        const keys = Array.from({ length: 6_000 }, (_, i) => `after-stop-${i}`);
        // Past the bound: writes wait for room when the stop begins.
        void writer.send({ cmd: 'puts', keys, value: 'x'.repeat(200), concurrency: 256 }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        assert.equal(await writer.send({ cmd: 'stopEngine' }), true);
      });
      // The other node answers again: a connection opened after the stop would now complete and stay.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      assert.equal(await writer.send({ cmd: 'sockets' }), 0, 'no TCP socket is open after the engine stopped');
    } finally {
      await stopCluster(nodes);
    }
  });

  it('clearKeySpace after async writes resolved: their copies still queued do not refill the keyspace', async () => {
    const nodes = await startCluster('127.0.162', 2, ASYNC);
    try {
      const [writer, slow] = nodes as [ClusterNode, ClusterNode];
      const clearing = await whileStopped([slow], async () => {
        await writer.send({ cmd: 'put', key: 'first', value: 'written' });
        // The first copy is on its way (unanswered): the second waits behind it.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await writer.send({ cmd: 'put', key: 'second', value: 'written' });
        const cleared = writer.send({ cmd: 'clear' });
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { cleared }; // answered once the other node runs again
      });
      assert.equal(await clearing.cleared, true);
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const node of nodes)
        for (const key of ['first', 'second'])
          assert.equal(await read(node, key), `v:${key}`, `${node.config.ip}: ${key} is gone after the clear`);
    } finally {
      await stopCluster(nodes);
    }
  });

  it('with an owner stopped, writes past the bound wait for room, resolve, and are counted when their copy fails', async () => {
    const writes = 6_000;
    await withAsyncCluster('127.0.152', { admin: true, writeTimeout: 2_000 }, async ([first, second, stopped]) => {
      const metrics = async () => (await fetch(`http://${first!.config.ip}:9464/metrics`)).text();
      const keys = Array.from({ length: writes }, (_, i) => `bound-${i}`);
      let maxRunning = 0;
      let maxWaiting = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const text = await metrics();
          maxRunning = Math.max(maxRunning, sample(text, 'distcache_replication_pending{state="running"}') ?? NaN);
          maxWaiting = Math.max(maxWaiting, sample(text, 'distcache_replication_pending{state="waiting"}') ?? NaN);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const { resolvedAt, errors } = await whileStopped([stopped!], async () => {
        try {
          return await first!.send<{ resolvedAt: number[]; errors: string[] }>({
            cmd: 'puts',
            keys,
            value: 'x'.repeat(200),
            concurrency: 256,
          });
        } finally {
          sampling = false;
          await sampler;
        }
      });
      assert.deepEqual(errors, [], 'every write resolved');
      assert.equal(resolvedAt.length, writes);
      assert.ok(resolvedAt[999]! < PROMPT_MS, `the first 1,000 writes did not wait for the stopped owner`);
      assert.ok(maxRunning <= 4_096, `at most 4,096 writes replicating at once, saw ${maxRunning}`);
      assert.ok(maxWaiting > 0, 'writes past the bound waited for room');
      const failures = sample(await metrics(), 'distcache_replication_failures_total{keyspace="ks"}') ?? 0;
      assert.ok(failures > 0, 'copies that did not reach the stopped owner are counted');
      const { rss } = await first!.send<{ rss: number }>({ cmd: 'memory' });
      assert.ok(rss < 512 * 1024 * 1024, `the writer's memory stays bounded: RSS ${rss} bytes`);
      await eventuallyReads(second!, keys.at(-1)!, 'x'.repeat(200));
    });
  });
});
