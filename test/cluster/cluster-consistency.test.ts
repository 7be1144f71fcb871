import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterNode, startCluster, stopCluster, waitForAdmitted, waitForState } from '../helpers/cluster.js';

/**
 * Issue 15 §1: after a membership change, no read returns a value older than
 * the last acknowledged write. Each case freezes or moves a node, writes
 * while it is away, brings it back, and reads on every node.
 */

/** `count` keys whose owners (owner first) satisfy `wanted`, asked of `node`. */
async function keysWhere(
  node: ClusterNode,
  count: number,
  wanted: (owners: string[]) => boolean,
  prefix = 'key',
): Promise<string[]> {
  const candidates = Array.from({ length: 40 * count }, (_, i) => `${prefix}-${i}`);
  const owners = await node.send<string[][]>({ cmd: 'owners', keys: candidates });
  const chosen = candidates.filter((_, i) => wanted(owners[i]!)).slice(0, count);
  assert.equal(chosen.length, count, 'enough keys with those owners');
  return chosen;
}

const valuesOf = (keys: string[], prefix: string) => keys.map((key) => `${prefix}:${key}`);

async function putAll(node: ClusterNode, keys: string[], prefix: string): Promise<void> {
  await Promise.all(keys.map((key) => node.send({ cmd: 'put', key, value: `${prefix}:${key}` })));
}

/** Freezes `node` with SIGSTOP until every other node declared it dead. */
async function freezeUntilDead(node: ClusterNode, others: ClusterNode[]): Promise<void> {
  node.signal('SIGSTOP');
  await Promise.all(others.map((other) => waitForState(other, node.id, ['dead'], 8_000)));
}

describe('a node that comes back serves no value older than an acknowledged write (real processes)', () => {
  it('frozen owner: 25 keys owned by c, overwritten through a while c was dead, read back new on a and on c', async () => {
    const nodes = await startCluster('127.0.130', 3, { hotCache: false });
    try {
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      const keys = await keysWhere(a, 25, (owners) => owners[0] === c.id);
      await putAll(a, keys, 'old');
      assert.deepEqual(await a.send({ cmd: 'getMany', keys }), valuesOf(keys, 'old'));
      await freezeUntilDead(c, [a, b]);
      await putAll(a, keys, 'new');
      assert.deepEqual(await b.send({ cmd: 'getMany', keys }), valuesOf(keys, 'new'), 'b reads the new values');
      c.signal('SIGCONT');
      await waitForAdmitted(nodes, 3);
      assert.deepEqual(await a.send({ cmd: 'getMany', keys }), valuesOf(keys, 'new'), 'a: 25 of 25 new');
      assert.deepEqual(await c.send({ cmd: 'getMany', keys }), valuesOf(keys, 'new'), 'c: 25 of 25 new');
    } finally {
      await stopCluster(nodes);
    }
  });

  it('frozen replica with replicaReads: c reads its own copy only once it is as new as the cluster', async () => {
    const nodes = await startCluster('127.0.131', 3, { hotCache: false, replicaCount: 2, replicaReads: true });
    try {
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      const keys = await keysWhere(a, 25, (owners) => owners[1] === c.id);
      await putAll(a, keys, 'old');
      assert.deepEqual(await c.send({ cmd: 'getMany', keys }), valuesOf(keys, 'old'));
      await freezeUntilDead(c, [a, b]);
      await putAll(a, keys, 'new');
      c.signal('SIGCONT');
      await waitForAdmitted(nodes, 3);
      for (const node of nodes)
        assert.deepEqual(await node.send({ cmd: 'getMany', keys }), valuesOf(keys, 'new'), `${node.id} reads new`);
    } finally {
      await stopCluster(nodes);
    }
  });

  it('a key deleted while its owner was frozen does not come back with it', async () => {
    const nodes = await startCluster('127.0.132', 3, { hotCache: false });
    try {
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      const keys = await keysWhere(a, 25, (owners) => owners[0] === c.id);
      await putAll(a, keys, 'put');
      await freezeUntilDead(c, [a, b]);
      await Promise.all(keys.map((key) => a.send({ cmd: 'delete', key })));
      const fromSource = valuesOf(keys, 'v');
      assert.deepEqual(await b.send({ cmd: 'getMany', keys }), fromSource, 'deleted: reloaded from the data source');
      c.signal('SIGCONT');
      await waitForAdmitted(nodes, 3);
      for (const node of [a, c])
        assert.deepEqual(await node.send({ cmd: 'getMany', keys }), fromSource, `${node.id}: no deleted value back`);
    } finally {
      await stopCluster(nodes);
    }
  });

  it('a node that lost keys to a joining node serves their newer values when it regains them after that node leaves', async () => {
    const ips = ['127.0.133.2', '127.0.133.3', '127.0.133.4'];
    const peers = ips.map((ip) => `${ip}:3322`);
    const [a, b] = ips.slice(0, 2).map((ip) => new ClusterNode({ ip, peers, hotCache: false })) as [
      ClusterNode,
      ClusterNode,
    ];
    const nodes = [a, b];
    try {
      await Promise.all(nodes.map((node) => node.started));
      await waitForAdmitted(nodes, 2);
      const joining = new ClusterNode({ ip: ips[2]!, peers, hotCache: false });
      nodes.push(joining);
      const candidates = await keysWhere(a, 200, () => true, 'moved');
      await putAll(a, candidates, 'old');
      await joining.started;
      await waitForAdmitted(nodes, 3);
      const keys = (await a.send<string[][]>({ cmd: 'owners', keys: candidates }))
        .map((owners, i) => (owners[0] === joining.id ? candidates[i]! : undefined))
        .filter((key) => key !== undefined)
        .slice(0, 25);
      assert.equal(keys.length, 25, 'the joining node took keys from a and b');
      await putAll(b, keys, 'new');
      await joining.send({ cmd: 'stop' });
      await joining.exited();
      await waitForState(a, joining.id, ['left'], 5_000);
      await waitForState(b, joining.id, ['left'], 5_000);
      for (const node of [a, b])
        assert.deepEqual(await node.send({ cmd: 'getMany', keys }), valuesOf(keys, 'new'), `${node.id} reads new`);
    } finally {
      await stopCluster(nodes);
    }
  });
});
