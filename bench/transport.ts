/**
 * Which transport carries requests between nodes (issue: cluster): the same
 * peer codec and the same load (64 GETs in flight, 1 KB values) over
 *   - a dedicated TCP listener (what distcache uses: PeerServer/PeerClient), and
 *   - a libp2p stream (TCP + noise + yamux), the alternative on the discovery port.
 * Client and server share this process in both variants.
 *
 *   npm run bench:transport     (writes bench/results/transport.json)
 */
import '../src/lib/promise-shim.js';
import { pushable } from 'it-pushable';
import { createHost } from '../src/cluster/libp2p-host.js';
import { PeerClient } from '../src/cluster/peer-client.js';
import { MessageType, PeerMessageDecoder, encodePeerMessage, type PeerMessage } from '../src/cluster/peer-codec.js';
import { PeerServer } from '../src/cluster/peer-server.js';
import type { Logger } from '../src/index.js';
import { interleavedMedians, measureInFlight, report, row } from './harness.js';

const IN_FLIGHT = 64;
const TRIAL_MS = 3_000;
const ROUNDS = 3;
const PROTOCOL = '/distcache/peer-bench/1';
const value = new Uint8Array(1024).fill(7);
const keys = Array.from({ length: 1_000 }, (_, i) => `user:${i}`);
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const answer = (request: PeerMessage): PeerMessage => ({
  type: MessageType.VALUE,
  requestId: request.requestId,
  found: true,
  expiresAt: 0,
  value,
});

async function tcpVariant() {
  const server = new PeerServer(
    {
      get: () => ({ bytes: value, expiresAt: 0 }),
      put: () => true,
      delete: () => false,
      deleteKeyspace: async () => {},
      clearKeyspace() {},
      invalidate() {},
      peek: () => undefined,
      merge: () => true,
      sync: async () => {},
      getMany: async () => [],
    },
    { kind: 'none' },
    silent,
  );
  await server.listen('127.0.43.2', 3320);
  const client = new PeerClient('127.0.43.2:3320', { kind: 'none' });
  return {
    get: (key: string) => client.request({ type: MessageType.GET, keyspace: 'ks', key }, 5_000),
    close: async () => (client.close(), server.close(0)),
  };
}

async function libp2pVariant() {
  const server = await createHost('127.0.43.3', 3322, undefined);
  await server.handle(PROTOCOL, ({ stream }) => {
    const replies = pushable<Uint8Array>();
    void stream.sink(replies);
    void (async () => {
      const decoder = new PeerMessageDecoder();
      for await (const chunk of stream.source) {
        for (const request of decoder.push(chunk.subarray())) replies.push(encodePeerMessage(answer(request)));
      }
      replies.end();
    })();
  });
  const client = await createHost('127.0.43.4', 3322, undefined);
  const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, PROTOCOL);
  const requests = pushable<Uint8Array>();
  void stream.sink(requests);
  const pending = new Map<number, (message: PeerMessage) => void>();
  void (async () => {
    const decoder = new PeerMessageDecoder();
    for await (const chunk of stream.source)
      for (const reply of decoder.push(chunk.subarray())) pending.get(reply.requestId)?.(reply);
  })();
  let nextId = 1;
  return {
    get: (key: string) =>
      new Promise<PeerMessage>((resolve) => {
        const requestId = nextId++;
        pending.set(requestId, (reply) => (pending.delete(requestId), resolve(reply)));
        requests.push(encodePeerMessage({ type: MessageType.GET, keyspace: 'ks', key }, requestId));
      }),
    close: async () => {
      requests.end();
      await client.stop();
      await server.stop();
    },
  };
}

const tcp = await tcpVariant();
const libp2p = await libp2pVariant();
const p99 = { tcp: [] as number[], libp2p: [] as number[] };
const medians = await interleavedMedians(
  {
    tcp: async () => {
      const result = await measureInFlight(tcp.get, keys, TRIAL_MS, IN_FLIGHT);
      p99.tcp.push(result.p99);
      return result.opsPerSecond;
    },
    libp2p: async () => {
      const result = await measureInFlight(libp2p.get, keys, TRIAL_MS, IN_FLIGHT);
      p99.libp2p.push(result.p99);
      return result.opsPerSecond;
    },
  },
  ROUNDS,
);
await tcp.close();
await libp2p.close();
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
report(
  'transport',
  [
    row(
      'peer GET ops/s over the dedicated TCP listener',
      medians.tcp,
      'libp2p stream (noise + yamux)',
      medians.libp2p,
      'ops/s',
    ),
    row('peer GET p99 over the dedicated TCP listener', median(p99.tcp), 'libp2p stream p99', median(p99.libp2p), 'ms'),
  ],
  [
    `same peer codec, ${IN_FLIGHT} GETs in flight, 1 KB values, client and server in one process on loopback; median of ${ROUNDS} interleaved ${TRIAL_MS / 1000} s trials`,
    'distcache carries peer requests on the dedicated TCP listener (bindPort) for the higher throughput; libp2p keeps membership and gossip',
  ],
);
