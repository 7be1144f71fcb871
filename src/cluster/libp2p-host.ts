import '../lib/promise-shim.js';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { splitHostPort } from '../net/host-port.js';

/**
 * A connection is refused while this many are still in their handshake: a
 * stranger without the cluster key can hold one there until
 * INBOUND_HANDSHAKE_TIMEOUT_MS, and one address may open INBOUND_PER_SECOND,
 * so one address holds at most 15, far from the limit.
 */
const MAX_INBOUND_HANDSHAKES = 128;
/** Time for an inbound connection's handshake (pnet, noise, yamux): milliseconds between members, even busy ones. */
const INBOUND_HANDSHAKE_TIMEOUT_MS = 3_000;
/** Connections one remote address may open per second. */
const INBOUND_PER_SECOND = 5;

/** The libp2p node of one distcache node: membership's transport. */
export type Libp2pHost = Awaited<ReturnType<typeof createHost>>;

/**
 * Starts the discovery-port libp2p host: TCP, noise and yamux; with a
 * cluster key, a private network (pnet) so that nodes without the key cannot
 * even complete a connection. Nothing runs per connection on a timer (no
 * connection monitor pings, no yamux keepalive): SWIM's probes already tell
 * whether a member answers, and a timer per connection would make an idle
 * node's work grow with the cluster.
 */
export async function createHost(listenHost: string, port: number, clusterKey: string | undefined) {
  return createLibp2p({
    addresses: { listen: [`${ipPrefix(listenHost)}/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxIncomingPendingConnections: MAX_INBOUND_HANDSHAKES,
      inboundUpgradeTimeout: INBOUND_HANDSHAKE_TIMEOUT_MS,
      inboundConnectionThreshold: INBOUND_PER_SECOND,
    },
    ...(clusterKey === undefined ? {} : { connectionProtector: preSharedKey({ psk: swarmKey(clusterKey) }) }),
  }).catch((error: unknown) => {
    throw withListenCode(error);
  });
}

/**
 * libp2p reports a listen failure as one message of several lines holding
 * each address's error with its stack; the errno code (EADDRINUSE, EACCES,
 * ...) in it becomes the error's `code`, which the caller reports.
 */
function withListenCode(error: unknown): unknown {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== undefined) return error;
  const code = /\blisten (E[A-Z]+)\b/.exec(error.message)?.[1];
  return code === undefined ? error : Object.assign(new Error(`listen ${code}`, { cause: error }), { code });
}

/** The multiaddr of a `host:port` discovery address. */
export function toMultiaddr(address: string): Multiaddr {
  const { host, port } = splitHostPort(address);
  return multiaddr(`${ipPrefix(host)}/tcp/${port}`);
}

function ipPrefix(host: string): string {
  const family = isIP(host);
  return family === 4 ? `/ip4/${host}` : family === 6 ? `/ip6/${host}` : `/dns4/${host}`;
}

/** libp2p's swarm key file format, with a 256-bit key derived from the cluster key. */
function swarmKey(clusterKey: string): Uint8Array {
  const hex = createHash('sha256').update(clusterKey, 'utf8').digest('hex');
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`);
}
