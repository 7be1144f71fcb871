/**
 * What a stranger on the discovery port can and cannot do to a cluster: real
 * node processes, and a libp2p host of the test's own speaking SWIM to them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SwimMessage } from '../../src/cluster/swim/messages.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { sleep } from '../helpers/engine.js';
import { SwimStranger } from '../helpers/swim-stranger.js';

const CLUSTER_KEY = 'the-cluster-key-of-swim-strangers';

type View = { id: string; state: string; admitted: boolean }[];

async function aliveIds(node: ClusterNode): Promise<string[]> {
  const view = await node.send<View>({ cmd: 'peers' });
  return view
    .filter((peer) => peer.state === 'alive' && peer.admitted)
    .map((peer) => peer.id)
    .sort();
}

async function knownIds(node: ClusterNode): Promise<string[]> {
  return (await node.send<View>({ cmd: 'peers' })).map((peer) => peer.id).sort();
}

/** A full-state exchange introducing a member that does not exist. */
function introduce(id: string): SwimMessage {
  const identity = { id, address: '127.0.123.99:3322', incarnation: 1, meta: '' };
  return { type: 'sync', reply: true, from: identity, rumours: [], members: [{ ...identity, state: 'alive' }] };
}

describe('a stranger on the discovery port of a cluster without a cluster key', () => {
  let nodes: ClusterNode[];
  let stranger: SwimStranger;
  before(async () => {
    // The nodes run with a small heap, so that a message that makes a node allocate without bound kills it fast.
    process.env.DISTCACHE_TEST_NODE_ARGS = '--max-old-space-size=192';
    try {
      nodes = await startCluster('127.0.123', 2);
    } finally {
      delete process.env.DISTCACHE_TEST_NODE_ARGS;
    }
    stranger = await SwimStranger.start('127.0.123.20');
  });
  after(async () => {
    await stranger?.stop();
    await stopCluster(nodes ?? []);
  });

  it('cannot take a node down with one message of nested array headers (180 KB declaring 16,384 items each)', async () => {
    const levels = 60_000;
    const bomb = new Uint8Array(levels * 3);
    for (let i = 0; i < levels; i++) bomb.set([0xdc, 0x40, 0x00], i * 3);
    await stranger.sendFrames('127.0.123.2:3322', [bomb]);
    await sleep(1_500);
    const everyone = nodes.map((node) => node.id).sort();
    assert.deepEqual(await aliveIds(nodes[0]!), everyone, 'the node that got the message still runs');
    assert.deepEqual(await aliveIds(nodes[1]!), everyone, 'and its peer still sees it alive');
  });
});

describe('a stranger on the discovery port of a cluster with a cluster key', () => {
  let nodes: ClusterNode[];
  before(async () => {
    nodes = await startCluster('127.0.123', 2, { clusterKey: CLUSTER_KEY });
  });
  after(async () => {
    await stopCluster(nodes ?? []);
  });

  for (const [who, key] of [
    ['without a key', undefined],
    ['with another key', 'another-cluster-key-entirely-0000'],
  ] as const) {
    it(`${who} cannot open a SWIM stream, so not one of its messages reaches a node`, async () => {
      const stranger = await SwimStranger.start('127.0.123.21', key);
      try {
        await assert.rejects(stranger.send('127.0.123.2:3322', [introduce('127.0.123.98:3320')]));
        await sleep(500);
        assert.deepEqual(await knownIds(nodes[0]!), nodes.map((node) => node.id).sort(), 'no member was introduced');
      } finally {
        await stranger.stop();
      }
    });
  }

  it('with the key, the same message introduces its member (what the two tests above would see if it came through)', async () => {
    const member = await SwimStranger.start('127.0.123.22', CLUSTER_KEY);
    try {
      await member.send('127.0.123.2:3322', [introduce('127.0.123.97:3320')]);
      const deadline = Date.now() + 5_000;
      while (!(await knownIds(nodes[0]!)).includes('127.0.123.97:3320') && Date.now() < deadline) await sleep(100);
      assert.ok((await knownIds(nodes[0]!)).includes('127.0.123.97:3320'));
    } finally {
      await member.stop();
    }
  });

  it('without a key, holding connections half-way open from one address, cannot keep a member from connecting', async () => {
    // Each connection sends a pnet nonce and then nothing, as fast as a node lets one address connect (5 a second).
    const sockets: Socket[] = [];
    const member = await SwimStranger.start('127.0.123.23', CLUSTER_KEY);
    try {
      for (let second = 0; second < 4; second++) {
        for (let i = 0; i < 5; i++) {
          const socket = connect({ host: '127.0.123.2', port: 3322, localAddress: '127.0.123.30' });
          socket.on('error', () => undefined);
          socket.on('connect', () => socket.write(randomBytes(24)));
          sockets.push(socket);
        }
        await sleep(1_000);
      }
      await member.send('127.0.123.2:3322', [introduce('127.0.123.96:3320')]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await member.stop();
    }
  });
});
