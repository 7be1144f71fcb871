import { hkdfSync } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { ServerTls } from '../net/stream-server.js';

/**
 * How the peer port is secured, decided once from `clusterKey` and `tls`:
 * - `tls` with `ca`: mutual TLS with certificates; the cluster key, if any,
 *   guards the discovery port (libp2p pnet) only;
 * - `clusterKey` alone: TLS 1.3 with an external pre-shared key derived from
 *   it. Only PSK handshakes exist on that port: the server has no
 *   certificate, so a client without the key has nothing to fall back to;
 * - `tls` without `ca`: TLS that authenticates the server only;
 * - neither: plain TCP, open to whoever reaches the port.
 */
export type PeerSecurity =
  | { readonly kind: 'certificates'; readonly tls: ServerTls }
  | { readonly kind: 'cluster-key'; readonly psk: Buffer }
  | { readonly kind: 'none' };

/** The PSK identity every node presents. The key, not the identity, is the secret. */
export const PEER_PSK_IDENTITY = 'distcache-peer';
const PSK_SALT = 'distcache peer port';
const PSK_INFO = 'distcache peer port: TLS 1.3 external pre-shared key';
const PSK_BYTES = 32;
/**
 * The TLS 1.3 suites with SHA-256: OpenSSL ties an external PSK given
 * through Node's pskCallback to SHA-256, so the SHA-384 suite cannot use it.
 */
const PSK_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';
/** Time a TLS client has to complete its handshake (Node's default is 120 s, a long hold on a connection slot). */
const TLS_HANDSHAKE_TIMEOUT_MS = 5_000;

/** Resolves the peer port's security; throws as {@link checkPeerSecurity} does. */
export function peerSecurity(clusterKey: string | undefined, tlsOptions: ServerTls | undefined): PeerSecurity {
  checkPeerSecurity(clusterKey, tlsOptions);
  if (tlsOptions !== undefined) return { kind: 'certificates', tls: tlsOptions };
  if (clusterKey !== undefined) return { kind: 'cluster-key', psk: derivePeerPsk(clusterKey) };
  return { kind: 'none' };
}

/**
 * Refuses `tls` without `ca` next to a cluster key with ERR_INVALID_CONFIG:
 * `tls` would take the peer port from the key, and without `ca` it
 * authenticates no client.
 */
export function checkPeerSecurity(clusterKey: string | undefined, tlsOptions: ServerTls | undefined): void {
  if (clusterKey === undefined || tlsOptions === undefined || tlsOptions.ca !== undefined) return;
  throw new DistCacheError(
    ErrorCode.INVALID_CONFIG,
    'tls: next to a clusterKey, tls needs a ca. With a ca, the peer port runs mutual TLS with certificates and the cluster key guards the discovery port; ' +
      'without one, TLS would let any client in. Leave tls out to let the cluster key secure the peer port',
  );
}

/** The peer port's TLS 1.3 pre-shared key: HKDF-SHA256 of the cluster key, for this purpose only. */
export function derivePeerPsk(clusterKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(clusterKey, 'utf8'), PSK_SALT, PSK_INFO, PSK_BYTES));
}

/** A listener for the peer port: `onConnection` gets each connection once its TLS handshake (if any) is done. */
export function createPeerListener(security: PeerSecurity, onConnection: (socket: net.Socket) => void): net.Server {
  switch (security.kind) {
    case 'none':
      return net.createServer(onConnection);
    case 'certificates': {
      const mutual = security.tls.ca !== undefined;
      return tls.createServer(
        {
          ...security.tls,
          requestCert: mutual,
          rejectUnauthorized: mutual,
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        },
        onConnection,
      );
    }
    case 'cluster-key': {
      const { psk } = security;
      return tls.createServer(
        {
          ...PSK_ONLY,
          // No key and no certificate: a handshake without the PSK cannot complete.
          pskCallback: (_socket, identity) => (identity === PEER_PSK_IDENTITY ? psk : null),
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        },
        onConnection,
      );
    }
  }
}

/** A connection being opened to a peer port, and the event that says it is ready for the handshake's HELLO. */
export interface PeerSocket {
  readonly socket: net.Socket;
  readonly readyEvent: 'connect' | 'secureConnect';
}

/** Where a peer connection goes, and the local address it leaves from (any when undefined). */
export interface PeerTarget {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string | undefined;
}

/**
 * Opens a connection to a peer port. Plain TCP reads into `onread` when
 * given (TLS sockets take none). A TLS client checks the server's
 * certificate against `ca`, not its name: peers are addressed by IP.
 */
export function connectPeer(security: PeerSecurity, target: PeerTarget, onread?: net.OnReadOpts): PeerSocket {
  switch (security.kind) {
    case 'none':
      return { socket: net.connect(onread ? { ...target, onread } : target), readyEvent: 'connect' };
    case 'certificates':
      return {
        socket: tls.connect({ ...target, ...security.tls, checkServerIdentity: () => undefined }),
        readyEvent: 'secureConnect',
      };
    case 'cluster-key': {
      const { psk } = security;
      return {
        socket: tls.connect({
          ...target,
          ...PSK_ONLY,
          pskCallback: () => ({ psk, identity: PEER_PSK_IDENTITY }),
          // Only called when a server authenticates with a certificate, never in a PSK handshake:
          // whatever CA signed it, a certificate is not the cluster key.
          checkServerIdentity: () => new Error('the peer authenticated with a certificate, not the cluster key'),
        }),
        readyEvent: 'secureConnect',
      };
    }
  }
}

/** TLS 1.3 and its SHA-256 suites only: no TLS 1.2 and none of its PSK or certificate suites. */
const PSK_ONLY = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: PSK_CIPHERS,
} as const satisfies tls.SecureContextOptions;

/** Why the peer port refused a client's TLS handshake, as an operator reads it in the log. */
export function describeTlsFailure(security: PeerSecurity, error: NodeJS.ErrnoException): string {
  if (security.kind !== 'cluster-key') return error.code ?? error.message;
  switch (error.code) {
    case 'ERR_SSL_BINDER_DOES_NOT_VERIFY':
      return 'the client holds another cluster key';
    case 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM':
      return 'the client offered no cluster key';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_HTTP_REQUEST':
      return 'the client does not speak TLS';
    default:
      return error.code ?? error.message;
  }
}

/** Why a connection to a peer failed before its handshake completed, as an operator reads it in the log. */
export function describePeerFailure(security: PeerSecurity, error: NodeJS.ErrnoException): string {
  if (security.kind !== 'cluster-key' || !error.code?.startsWith('ERR_SSL')) return error.message;
  return `the TLS handshake failed (${error.code}): the peer holds another cluster key, or none`;
}
