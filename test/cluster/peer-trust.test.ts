import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { connectPeer, peerSecurity } from '../../src/cluster/peer-channel.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import { MessageType, encodePeerMessage } from '../../src/cluster/peer-codec.js';
import { ClientHandshake, PEER_PROTOCOL_VERSIONS } from '../../src/cluster/peer-handshake.js';
import { ErrorCode } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { ClusterNode, startCluster, stopCluster } from '../helpers/cluster.js';
import { sleep } from '../helpers/engine.js';
import { reflectionAttack } from '../helpers/reflection-attack.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const KEY = 'the-cluster-key-of-peer-trust-0123';
const WRONG_KEY = 'not-the-cluster-key-of-peer-trust';
const PEER_PORT = 3320;
/** Where a relayed node's peer server really listens; its relay takes port 3320. */
const HIDDEN_PORT = 3330;
const keys = Array.from({ length: 64 }, (_, i) => `key:${i}`);

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}
const logsOf = (node: ClusterNode) => node.send<LogLine[]>({ cmd: 'logs' });
const admitted = async (node: ClusterNode) =>
  (await node.send<{ admitted: boolean; state: string }[]>({ cmd: 'peers' })).filter(
    (peer) => peer.admitted && peer.state === 'alive',
  ).length;

/** A key from `pool` whose owner, as `reader` sees it, is `owner`. */
async function keyOwnedBy(reader: ClusterNode, owner: ClusterNode, pool = keys): Promise<string> {
  const [key] = await reader.send<string[]>({ cmd: 'owned', keys: pool, by: owner.id });
  assert.ok(key, `no key of ${pool.length} is owned by ${owner.id}`);
  return key;
}

/** Relays `ip:3320` to `ip:3330`, where a node started with `peerListenPort: 3330` listens. */
const relayFor = (ip: string) => TcpRelay.start({ host: ip, port: PEER_PORT }, { host: ip, port: HIDDEN_PORT });

/** Sends `bytes` on a fresh connection and collects what comes back until the server closes it (or `ms` pass). */
function exchange(address: { host: string; port: number }, bytes: Buffer, ms = 4_000) {
  return new Promise<{ received: Buffer; closedByServer: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(address, () => socket.write(bytes));
    const timer = setTimeout(() => (socket.destroy(), done(false)), ms);
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedByServer });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}

describe('peer port with a cluster key, on real processes', () => {
  it('the reflection of the old HMAC handshake fails at the TLS layer: the stranger gets no handshake reply at all', async () => {
    const nodes = await startCluster('127.0.71', 2, { clusterKey: KEY, replicaCount: 2 });
    try {
      assert.deepEqual(await nodes[0]!.send({ cmd: 'getMany', keys: ['secret'] }), ['v:secret']);
      const outcome = await reflectionAttack({ host: '127.0.71.2', port: PEER_PORT }, 'ks', 'secret');
      assert.equal(outcome.admitted, false, 'the attack read a value');
      assert.match(outcome.admitted ? '' : outcome.failedAt, /^1:/, 'it fails at its first step');
      const refusals = (await logsOf(nodes[0]!)).filter((line) => line.message === 'peer TLS handshake refused');
      assert.ok(
        refusals.some((line) => line.fields.why === 'the client does not speak TLS'),
        JSON.stringify(refusals),
      );
    } finally {
      await stopCluster(nodes);
    }
  });

  describe('a node behind a recording relay', () => {
    let relay: TcpRelay;
    let nodes: ClusterNode[];
    before(async () => {
      relay = await relayFor('127.0.72.3');
      nodes = await startCluster('127.0.72', 2, (ip) => ({
        clusterKey: KEY,
        valueBytes: 8_192,
        ...(ip === '127.0.72.3' ? { peerListenPort: HIDDEN_PORT } : {}),
      }));
    });
    after(async () => {
      await stopCluster(nodes ?? []);
      await relay?.close();
    });

    it('a replayed connection is refused at the TLS layer and serves no request', async () => {
      const [a, b] = nodes as [ClusterNode, ClusterNode];
      const remote = await a.send<string[]>({ cmd: 'owned', keys, by: b.id });
      const values = await a.send<string[]>({ cmd: 'getMany', keys: remote });
      assert.ok(values.every((value) => value.startsWith('v:')));
      // The connection that carried the GETs: the one whose answers were largest.
      const captured = relay.connections
        .map((connection) => ({
          sent: Buffer.concat(connection.toServer),
          answered: Buffer.concat(connection.toClient).byteLength,
        }))
        .sort((x, y) => y.answered - x.answered)[0]!;
      assert.ok(captured.answered >= remote.length * 8_192, 'the relay carried the answers');

      const hitsBefore = (await b.send<{ hits: number }>({ cmd: 'stats' })).hits;
      const replay = await exchange({ host: '127.0.72.3', port: HIDDEN_PORT }, captured.sent);
      assert.ok(replay.closedByServer, 'the server closed the replayed connection');
      assert.ok(replay.received.byteLength < 8_192, `${replay.received.byteLength} bytes came back: a value was sent`);
      assert.equal((await b.send<{ hits: number }>({ cmd: 'stats' })).hits, hitsBefore, 'no GET was served');
      const refused = (await logsOf(b)).filter((line) => line.message === 'peer TLS handshake refused');
      assert.ok(refused.length >= 1, 'the refusal is logged');
    });

    it('a wrong key, no key, a plaintext client holding the key, and a TLS client without the key all fail', async () => {
      const b = { host: '127.0.72.3', port: HIDDEN_PORT };
      const address = `${b.host}:${b.port}`;
      const attempt = (client: PeerClient) => client.verify().finally(() => client.close());
      await rejectsWithCode(
        attempt(new PeerClient(address, peerSecurity(WRONG_KEY, undefined))),
        ErrorCode.PEER_UNAVAILABLE,
      );
      await rejectsWithCode(attempt(new PeerClient(address, { kind: 'none' })), ErrorCode.PEER_UNAVAILABLE);

      // A client that knows the key and the protocol but sends its frames in the clear.
      const hello = new ClientHandshake(PEER_PROTOCOL_VERSIONS, '127.0.72.3:3320').hello();
      const get = { type: MessageType.GET, requestId: 1, keyspace: 'ks', key: 'key:0' } as const;
      const plaintext = await exchange(b, Buffer.concat([encodePeerMessage(hello), encodePeerMessage(get)]));
      assert.ok(plaintext.closedByServer);
      assert.ok(plaintext.received.byteLength < 100, `${plaintext.received.byteLength} bytes answered in the clear`);

      const tlsWithoutKey = await new Promise<string>((resolve) => {
        const socket = tls.connect({ ...b, rejectUnauthorized: false }, () => resolve('connected'));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        socket.on('close', () => resolve('closed'));
      });
      assert.notEqual(tlsWithoutKey, 'connected');

      const member = new PeerClient('127.0.72.3:3320', peerSecurity(KEY, undefined));
      assert.equal(
        await attempt(member),
        PEER_PROTOCOL_VERSIONS.max,
        'a client with the key gets in, through the relay',
      );
    });
  });

  for (const keyed of [true, false]) {
    const prefix = keyed ? '127.0.73' : '127.0.74';
    it(
      keyed
        ? 'a value written through one node and read through another never crosses the network in the clear'
        : '(the same without a cluster key: the relay does see the value, so it sits on the path)',
      async () => {
        const ips = [`${prefix}.2`, `${prefix}.3`];
        const relays = await Promise.all(ips.map(relayFor));
        const nodes = await startCluster(prefix, 2, {
          peerListenPort: HIDDEN_PORT,
          ...(keyed ? { clusterKey: KEY } : {}),
        });
        try {
          const [a, b] = nodes as [ClusterNode, ClusterNode];
          const secret = `distinctive:${randomBytes(94).toString('hex')}`;
          assert.equal(secret.length, 200);
          const written = [await keyOwnedBy(a, a), await keyOwnedBy(a, b)];
          for (const key of written) await a.send({ cmd: 'put', key, value: secret });
          assert.deepEqual(await b.send({ cmd: 'getMany', keys: written }), [secret, secret]);

          const wire = Buffer.concat(relays.map((relay) => relay.allBytes()));
          assert.ok(wire.byteLength > 400, 'traffic went through the relays');
          const pieces = Array.from({ length: 10 }, (_, i) => Buffer.from(secret.slice(i * 20, i * 20 + 20)));
          const seen = pieces.filter((piece) => wire.includes(piece)).length;
          if (keyed) assert.equal(seen, 0, `${seen} of 10 pieces of the value crossed in the clear`);
          else assert.equal(seen, 10);
        } finally {
          await stopCluster(nodes);
          await Promise.all(relays.map((relay) => relay.close()));
        }
      },
    );
  }

  it('an authenticated peer that pipelines GETs of a large value and reads nothing cannot make the node buffer them', async () => {
    const ip = '127.0.75.2';
    const [node] = await startCluster('127.0.75', 1, { clusterKey: KEY, valueBytes: 32 * 1024 });
    const security = peerSecurity(KEY, undefined);
    const member = new PeerClient(`${ip}:${PEER_PORT}`, security);
    let hog: net.Socket | undefined;
    try {
      assert.deepEqual((await node!.send<string[]>({ cmd: 'getMany', keys: ['big'] }))[0]!.slice(0, 5), 'v:big');
      const rss = async () => (await node!.send<{ rss: number }>({ cmd: 'memory' })).rss;
      const baseline = await rss();

      hog = connectPeer(security, { host: ip, port: PEER_PORT }).socket;
      hog.on('error', () => undefined);
      await once(hog, 'secureConnect');
      hog.write(encodePeerMessage(new ClientHandshake(PEER_PROTOCOL_VERSIONS, `${ip}:${PEER_PORT}`).hello()));
      await once(hog, 'data'); // WELCOME
      hog.pause(); // and never another byte
      const get = (i: number) =>
        encodePeerMessage({ type: MessageType.GET, requestId: i + 1, keyspace: 'ks', key: 'big' });
      hog.write(Buffer.concat(Array.from({ length: 20_000 }, (_, i) => get(i))));

      let peak = baseline;
      for (let i = 0; i < 16; i++) {
        await sleep(250);
        peak = Math.max(peak, await rss());
        if (i === 8) {
          const started = Date.now();
          const reply = await member.request({ type: MessageType.GET, keyspace: 'ks', key: 'big' }, 3_000);
          assert.equal(reply.type, MessageType.VALUE);
          assert.ok(Date.now() - started < 1_000, `another peer waited ${Date.now() - started} ms`);
        }
      }
      hog.destroy();
      await sleep(1_500);
      const afterwards = await rss();
      const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
      assert.ok(peak - baseline < 64 * 2 ** 20, `RSS grew by ${mb(peak - baseline)} MB (from ${mb(baseline)} MB)`);
      assert.ok(afterwards - baseline < 64 * 2 ** 20, `RSS stayed ${mb(afterwards - baseline)} MB above its start`);
    } finally {
      hog?.destroy();
      member.close();
      await stopCluster([node!]);
    }
  });
});

describe('peer protocol versions, on real processes', () => {
  it('a node forced to speak version N-1 and a node speaking N form one cluster, speak N-1, and serve gets and puts', async () => {
    const nodes = await startCluster('127.0.76', 2, (ip) => ({
      clusterKey: KEY,
      ...(ip === '127.0.76.3' ? { peerProtocol: `${PEER_PROTOCOL_VERSIONS.max - 1}` } : {}),
    }));
    try {
      const [current, older] = nodes as [ClusterNode, ClusterNode];
      for (const [writer, reader] of [
        [current, older],
        [older, current],
      ] as const) {
        const pool = keys.map((key) => `${key}:${writer.id}`);
        const key = await keyOwnedBy(writer, reader, pool);
        await writer.send({ cmd: 'put', key, value: `written through ${writer.id}` });
        assert.deepEqual(await reader.send({ cmd: 'getMany', keys: [key] }), [`written through ${writer.id}`]);
        const other = await keyOwnedBy(reader, writer, pool);
        assert.deepEqual(await reader.send({ cmd: 'getMany', keys: [other] }), [`v:${other}`]);
      }
      for (const node of nodes) {
        const versions = (await logsOf(node))
          .filter((line) => line.message === 'peer connected')
          .map((line) => line.fields.version);
        assert.ok(versions.length > 0);
        assert.ok(
          versions.every((version) => version === PEER_PROTOCOL_VERSIONS.max - 1),
          JSON.stringify(versions),
        );
      }
    } finally {
      await stopCluster(nodes);
    }
  });

  it('nodes without a common version refuse each other and both log why', async () => {
    const peers = ['127.0.77.2:3322', '127.0.77.3:3322'];
    const newer = new ClusterNode({ ip: '127.0.77.2', peers, clusterKey: KEY, peerProtocol: '3..3' });
    const older = new ClusterNode({ ip: '127.0.77.3', peers, clusterKey: KEY, peerProtocol: '2..2' });
    try {
      await Promise.all([newer.started, older.started]);
      await sleep(3_000);
      assert.deepEqual(await Promise.all([admitted(newer), admitted(older)]), [1, 1]);
      const newerLogs = await logsOf(newer);
      const refusedHere = newerLogs.find((line) => line.message === 'peer connection refused');
      assert.match(
        String(refusedHere?.fields.why),
        /no common peer protocol version: this node speaks 3\.\.3, the peer 2\.\.2/,
      );
      const refusedThere = newerLogs.find((line) => line.message.startsWith('member refused'));
      assert.match(String(refusedThere?.fields.err), /refused the handshake: no common peer protocol version/);
      const olderLogs = await logsOf(older);
      assert.ok(olderLogs.some((line) => /this node speaks 2\.\.2, the peer 3\.\.3/.test(String(line.fields.why))));
    } finally {
      await stopCluster([newer, older]);
    }
  });
});
