import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';

describe('a 3-node cluster of real processes on 127.0.20.x', () => {
  let nodes: ClusterNode[] = [];
  before(async () => {
    nodes = await startCluster('127.0.20', 3, { delayMs: 20 });
  });
  after(async () => {
    await stopCluster(nodes);
  });

  it('10,000 concurrent gets over 100 cold keys from all nodes cost exactly 100 data-source calls', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `cold-${i}`);
    const perNode = nodes.map((_, n) => Array.from({ length: 3_334 }, (_, i) => keys[(i + n * 7) % keys.length]!));
    const results = await Promise.all(
      nodes.map((node, n) => node.send<(string | null)[]>({ cmd: 'getMany', keys: perNode[n]! })),
    );
    for (const [n, values] of results.entries()) {
      assert.deepEqual(
        values,
        perNode[n]!.map((key) => `v:${key}`),
      );
    }
    const calls = await Promise.all(nodes.map((node) => node.send<number>({ cmd: 'calls' })));
    assert.equal(
      calls.reduce((sum, count) => sum + count, 0),
      100,
      `calls per node: ${calls.join(', ')}`,
    );
    assert.ok(
      calls.every((count) => count > 0),
      'every node owns some of the keys',
    );
  });

  it('a put on one node is read back from every other node, and so is a delete', async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const keys = Array.from({ length: 30 }, (_, i) => `written-${i}`);
    await b.send({ cmd: 'getMany', keys }); // warm hot copies on b first
    await Promise.all(keys.map((key) => a.send({ cmd: 'put', key, value: `put:${key}` })));
    for (const node of [b, c])
      assert.deepEqual(
        await node.send({ cmd: 'getMany', keys }),
        keys.map((key) => `put:${key}`),
      );
    await Promise.all(keys.map((key) => c.send({ cmd: 'delete', key })));
    for (const node of [a, b])
      assert.deepEqual(
        await node.send({ cmd: 'getMany', keys }),
        keys.map((key) => `v:${key}`),
      );
  });
});
