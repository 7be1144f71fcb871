/**
 * Invalidations only where a copy may be: a write costs peer messages in
 * proportion to the copies of the key, not to the members, and a read after
 * the write still returns it from every node, hot copies included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { createXxhash64 } from '../../src/cluster/hasher.js';
import { Placement } from '../../src/cluster/placement.js';
import { Engine } from '../../src/index.js';
import type { NodeConfig } from '../helpers/cluster-node.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { bytes, countingSource, silentLogger, sleep, text } from '../helpers/engine.js';
import { peerRequestsDuring, sumOf } from '../helpers/metrics.js';

/**
 * In a 6-node cluster on `${prefix}.x`, a write costs at most 2 peer messages when nobody read its key, and at
 * most 4 after two nodes read it, which still reach both hot copies: the owner names its readers by the source
 * address of their peer connections.
 */
async function writesReachOnlyTheCopies(prefix: string, extra: Partial<NodeConfig>): Promise<void> {
  const nodes = await startCluster(prefix, 6, { admin: true, ...extra });
  try {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const unread = Array.from({ length: 60 }, (_, i) => `unread-${i}`);
    const writes = await peerRequestsDuring(
      nodes.map((node) => node.config.ip),
      () => Promise.all(unread.map((key) => a.send({ cmd: 'put', key, value: `put:${key}` }))),
    );
    // The owner's PUT (unless a owns the key) and one INVALIDATE to the node ranked after the owner;
    // every non-owner got one before, 5 per write here.
    assert.ok(sumOf(writes) / unread.length <= 2, `peer messages per write: ${JSON.stringify(writes)}`);

    const read = Array.from({ length: 30 }, (_, i) => `read-${i}`);
    await Promise.all(read.map((key) => a.send({ cmd: 'put', key, value: `first:${key}` })));
    for (const reader of [b, c])
      assert.deepEqual(
        await reader.send({ cmd: 'getMany', keys: read }),
        read.map((key) => `first:${key}`),
      );
    const rewrites = await peerRequestsDuring(
      nodes.map((node) => node.config.ip),
      () => Promise.all(read.map((key) => a.send({ cmd: 'put', key, value: `second:${key}` }))),
    );
    // PUT + former owner + b and c (each holds a hot copy unless it owns the key).
    assert.ok(
      sumOf(rewrites) / read.length <= 4,
      `peer messages per write after 2 readers: ${JSON.stringify(rewrites)}`,
    );
    assert.ok((rewrites.INVALIDATE ?? 0) > read.length, 'the readers were invalidated');
    for (const node of nodes)
      assert.deepEqual(
        await node.send({ cmd: 'getMany', keys: read }),
        read.map((key) => `second:${key}`),
        `${node.id} reads every write`,
      );
  } finally {
    await stopCluster(nodes);
  }
}

describe('invalidations only where a copy may be, real processes', () => {
  it('in a 6-node cluster a write sends at most 2 peer messages when nobody read the key, and reaches every hot copy when some did', () =>
    writesReachOnlyTheCopies('127.0.126', {}));

  it('the same holds with a cluster key: the owner names its readers through the TLS peer port', () =>
    writesReachOnlyTheCopies('127.0.120', { clusterKey: 'invalidation-test-cluster-key' }));
});

const IPS = ['127.0.127.2', '127.0.127.3', '127.0.127.4', '127.0.127.5'];
/** Placement once all four nodes are members, computed as every node does (rendezvous over xxhash64). */
const placementOfFour = new Placement(await createXxhash64());
placementOfFour.setMembers(IPS.map((ip) => `${ip}:3320`));

function inProcessNode(ip: string): Engine {
  return new Engine({
    logger: silentLogger,
    bindAddr: ip,
    discovery: new StaticDiscovery({ peers: IPS.map((peer) => `${peer}:3322`) }),
    keyspaces: [{ name: 'ks', maxBytes: 1 << 20, dataSource: countingSource() }],
  });
}

async function converge(engines: Engine[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const admitted = engines.map((engine) => engine.peers().filter((p) => p.admitted && p.state === 'alive').length);
    if (admitted.every((count) => count === engines.length)) return;
    await sleep(25);
  }
  throw new Error(`the ${engines.length} nodes did not converge`);
}

describe('invalidations only where a copy may be, in one process', () => {
  it('after a join moves a key to the new node, a write still drops the hot copies the former owner handed out', async () => {
    const [first, second, third] = IPS.slice(0, 3).map(inProcessNode) as [Engine, Engine, Engine];
    const engines = [first, second, third];
    let joiner: Engine | undefined;
    try {
      await Promise.all(engines.map((engine) => engine.start()));
      await converge(engines);
      // A key the 4th node will own, held until then by one of the three.
      const key = Array.from({ length: 2_000 }, (_, i) => `moving-${i}`).find(
        (candidate) =>
          placementOfFour.primary('ks', candidate) === `${IPS[3]}:3320` &&
          first.owners('ks', candidate)[0] !== `${IPS[0]}:3320`,
      )!;
      const formerOwner = first.owners('ks', key)[0]!;
      const reader = engines.find((engine) => idOf(engine) !== formerOwner && engine !== first)!;
      await first.put('ks', { key, value: bytes('before') });
      assert.equal(text((await reader.get('ks', key))?.value), 'before', 'the reader now holds a hot copy');

      joiner = inProcessNode(IPS[3]!);
      await joiner.start();
      await converge([...engines, joiner]);
      assert.equal(first.owners('ks', key)[0], `${IPS[3]}:3320`, 'the key moved to the new node');

      await first.put('ks', { key, value: bytes('after') });
      assert.equal(text((await reader.get('ks', key))?.value), 'after', 'no stale hot copy after the write resolved');
    } finally {
      await Promise.all([...engines, ...(joiner ? [joiner] : [])].map((engine) => engine.stop()));
    }
  });

  it('a write that races reads on other nodes is read back from every node once it resolves', async () => {
    const engines = IPS.slice(0, 3).map(inProcessNode);
    const [writer, ...readers] = engines as [Engine, Engine, Engine];
    try {
      await Promise.all(engines.map((engine) => engine.start()));
      await converge(engines);
      const key = Array.from({ length: 100 }, (_, i) => `raced-${i}`).find(
        (candidate) => writer.owners('ks', candidate)[0] !== idOf(writer),
      )!;
      let stop = false;
      // Hot-copy hits resolve without I/O: each loop yields a turn, or it would starve the nodes' sockets.
      const background = readers.flatMap((reader) =>
        Array.from({ length: 4 }, async () => {
          while (!stop) {
            await reader.get('ks', key);
            await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      );
      for (let version = 0; version < 200; version++) {
        await writer.put('ks', { key, value: bytes(`v${version}`) });
        for (const reader of readers)
          assert.equal(text((await reader.get('ks', key))?.value), `v${version}`, `version ${version}`);
      }
      stop = true;
      await Promise.all(background);
    } finally {
      await Promise.all(engines.map((engine) => engine.stop()));
    }
  });
});

function idOf(engine: Engine): string {
  return engine.peers().find((peer) => peer.self)!.id;
}
