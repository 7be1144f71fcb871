import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterNode, startCluster, stopCluster } from '../helpers/cluster.js';

/**
 * Issue 15 §5 (first bullet): updateKeySpace changes this node's definitions
 * only (a data source is code and cannot travel); the digest it announces
 * changes at once, the other members emit `peerUpdated` for it, and every
 * node shows `digestMismatch` until all have the same definitions.
 */

type Digests = { id: string; digest: string; digestMismatch: boolean }[];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true, within `timeoutMs`. */
async function eventually(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Whether `node` lists exactly the members of `mismatched` with digestMismatch. */
async function mismatches(node: ClusterNode, mismatched: string[]): Promise<boolean> {
  const digests = await node.send<Digests>({ cmd: 'digests' });
  return digests.every((peer) => peer.digestMismatch === mismatched.includes(peer.id));
}

describe('updateKeySpace across real processes', () => {
  it('announces the new digest: the others emit peerUpdated and show the mismatch until every node updated', async () => {
    const nodes = await startCluster('127.0.134', 3);
    try {
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      const updatedEvents = async (node: ClusterNode) =>
        (await node.send<{ event: string; peer: string }[]>({ cmd: 'events' })).filter(
          (event) => event.event === 'peerUpdated' && event.peer === a.id,
        ).length;
      const before = await Promise.all([b, c].map(updatedEvents));
      const [digestBefore] = (await a.send<Digests>({ cmd: 'digests' })).map((peer) => peer.digest);

      await a.send({ cmd: 'updateKeySpace', maxBytes: 32 * 1024 * 1024 });
      const [digestAfter] = (await a.send<Digests>({ cmd: 'digests' })).map((peer) => peer.digest);
      assert.notEqual(digestAfter, digestBefore, 'a announces a new digest');
      for (const [i, node] of [b, c].entries()) {
        await eventually(
          `${node.id} emits peerUpdated for a`,
          5_000,
          async () => (await updatedEvents(node)) > before[i]!,
        );
        await eventually(`${node.id} shows a's digest mismatch`, 5_000, () => mismatches(node, [a.id]));
      }
      await eventually('a shows b and c mismatched', 5_000, () => mismatches(a, [b.id, c.id]));
      assert.deepEqual(await a.send({ cmd: 'getMany', keys: ['k1'] }), ['v:k1'], 'a serves with its new definition');

      await b.send({ cmd: 'updateKeySpace', maxBytes: 32 * 1024 * 1024 });
      await c.send({ cmd: 'updateKeySpace', maxBytes: 32 * 1024 * 1024 });
      for (const node of nodes)
        await eventually(`${node.id} shows no mismatch once all updated`, 5_000, () => mismatches(node, []));
    } finally {
      await stopCluster(nodes);
    }
  });
});
