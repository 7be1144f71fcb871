import '../lib/promise-shim.js';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { gossipsub } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { splitHostPort } from '../net/host-port.js';

/** The libp2p node of one distcache node, with the services membership uses. */
export type Libp2pHost = Awaited<ReturnType<typeof createHost>>;

/**
 * Starts the discovery-port libp2p host: TCP, noise, yamux, identify, ping
 * and gossipsub; with a cluster key, a private network (pnet) so that nodes
 * without the key cannot even complete a connection.
 */
export async function createHost(listenHost: string, port: number, clusterKey: string | undefined) {
  return createLibp2p({
    addresses: { listen: [`${ipPrefix(listenHost)}/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(clusterKey === undefined ? {} : { connectionProtector: preSharedKey({ psk: swarmKey(clusterKey) }) }),
    services: {
      identify: identify(),
      ping: ping(),
      // Unsigned messages: signing and verifying every heartbeat and invalidation in
      // JavaScript costs more CPU than the cache itself under write load. The
      // connections are noise-authenticated, and with a cluster key private.
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        heartbeatInterval: 500,
        globalSignaturePolicy: 'StrictNoSign',
      }),
    },
  });
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
