/**
 * Readers the owner cannot name: every node's peer port sits behind a relay
 * (as behind NAT), so connections reach it from the relay's address, which
 * is no member's. The owners then answer `everyone` for the hot-copy
 * lifetime, and a write must still cost a bounded number of messages (not a
 * storm of invalidations passed on and on) while reaching every hot copy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { peerRequestsDuring, sumOf } from '../helpers/metrics.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const PREFIX = '127.0.124';
const NODES = 6;
/** Where each node's peer server really listens; its relay takes the advertised port 3320. */
const HIDDEN_PORT = 3330;

describe('invalidations when the owner cannot name its readers, real processes behind relays', () => {
  it('a write costs at most n·(n-1) + 1 invalidations (each node tells every other once, and the former owner), and still reaches every hot copy', async () => {
    const ips = Array.from({ length: NODES }, (_, i) => `${PREFIX}.${i + 2}`);
    const relays: TcpRelay[] = [];
    let nodes: ClusterNode[] = [];
    try {
      for (const ip of ips)
        relays.push(await TcpRelay.start({ host: ip, port: 3320 }, { host: ip, port: HIDDEN_PORT }));
      nodes = await startCluster(PREFIX, NODES, { admin: true, peerListenPort: HIDDEN_PORT });
      const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
      const keys = Array.from({ length: 30 }, (_, i) => `relayed-${i}`);
      const write = (version: string) =>
        Promise.all(keys.map((key) => a.send({ cmd: 'put', key, value: `${version}:${key}` })));
      const readsEverywhere = async (readers: ClusterNode[], version: string) => {
        for (const reader of readers)
          assert.deepEqual(
            await reader.send({ cmd: 'getMany', keys }),
            keys.map((key) => `${version}:${key}`),
            `${reader.id} reads the ${version} write`,
          );
      };

      await write('first');
      // Hot copies on b and c, handed out to readers the owners cannot name: every owner loses track.
      await readsEverywhere([b, c], 'first');
      // Each node tells every other once, and the writer tells the former owner.
      const bound = NODES * (NODES - 1) + 1;
      const second = await peerRequestsDuring(
        nodes.map((node) => node.config.ip),
        () => write('second'),
      );
      assert.ok(
        (second.INVALIDATE ?? 0) / keys.length <= bound,
        `INVALIDATEs per write ${(second.INVALIDATE ?? 0) / keys.length} > ${bound}: ${JSON.stringify(second)}`,
      );
      // Plus the owner's PUT (unless a owns the key).
      assert.ok(sumOf(second) / keys.length <= bound + 1, `peer messages per write: ${JSON.stringify(second)}`);

      // Nobody read since: every node already told everyone, and the next write needs no one but the former owner.
      const third = await peerRequestsDuring(
        nodes.map((node) => node.config.ip),
        () => write('third'),
      );
      assert.ok(
        sumOf(third) / keys.length <= 2,
        `peer messages per write with no read since: ${JSON.stringify(third)}`,
      );

      // Unnamed copies again, on every node: the next write must tell everyone once more.
      await readsEverywhere(nodes, 'third');
      const fourth = await peerRequestsDuring(
        nodes.map((node) => node.config.ip),
        () => write('fourth'),
      );
      assert.ok(sumOf(fourth) / keys.length <= bound + 1, `peer messages per write: ${JSON.stringify(fourth)}`);
      await readsEverywhere(nodes, 'fourth');
      console.log(
        `messages per write (${NODES} nodes, ${keys.length} keys): after unnamed reads ${JSON.stringify(second)}, ` +
          `no read since ${JSON.stringify(third)}, after reads everywhere ${JSON.stringify(fourth)}`,
      );
      assert.ok(
        relays.every((relay) => relay.connections.length > 0),
        'every peer connection went through a relay',
      );
    } finally {
      await stopCluster(nodes);
      await Promise.all(relays.map((relay) => relay.close()));
    }
  });
});
