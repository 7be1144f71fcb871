import { chmod, chown } from 'node:fs/promises';
import type net from 'node:net';
import { createStreamServer, listenOrFail, type ServerTls } from '../net/stream-server.js';
import { UnixSocketPath } from '../net/unix-socket-path.js';
import { formatSessionAddress, type SessionAddress } from './address.js';

export type { ServerTls } from '../net/stream-server.js';

/** Owner uid, group gid and mode of a UNIX socket, like dc_server's -sockowner/-sockgroup/-sockperms. */
export interface SocketPermissions {
  owner?: number;
  group?: number;
  mode?: number;
}

/** A listening session address. */
export interface ListeningAddress {
  readonly server: net.Server;
  /** The bound address in the C tools' syntax (`IP:host:port` with the port bound, or `UNIX:/path`). */
  readonly address: string;
  /** Stops listening; a UNIX socket file is removed only while it is still the one this process created. */
  close(): Promise<void>;
}

/**
 * Listens on a session address (TCP or UNIX, optionally TLS) for the session
 * listener, the proxy and the snooper. A UNIX path is taken only when it is
 * free or a stale socket (see {@link UnixSocketPath}); a failure is
 * ERR_INVALID_CONFIG naming the address.
 */
export async function listenOn(
  address: SessionAddress,
  onConnection: (socket: net.Socket) => void,
  options: { tls?: ServerTls; maxConnections?: number; permissions?: SocketPermissions } = {},
): Promise<ListeningAddress> {
  const server = createStreamServer(options.tls, onConnection);
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  const label = { what: 'distcache protocol', where: formatSessionAddress(address) };
  if (address.kind === 'tcp') {
    await listenOrFail(server, { host: address.host, port: address.port }, label);
    const bound = server.address() as net.AddressInfo;
    return { server, address: `IP:${bound.address}:${bound.port}`, close: () => closeServer(server) };
  }
  const socket = await UnixSocketPath.listen(server, address.path, label, (path) =>
    applyPermissions(path, options.permissions),
  );
  return {
    server,
    address: formatSessionAddress(address),
    async close() {
      await socket.release();
      await closeServer(server);
    },
  };
}

async function applyPermissions(path: string, permissions: SocketPermissions | undefined): Promise<void> {
  const { owner, group, mode } = permissions ?? {};
  if (owner !== undefined || group !== undefined) await chown(path, owner ?? -1, group ?? -1);
  if (mode !== undefined) await chmod(path, mode);
}

/** Closes a server; resolves once it no longer listens. */
function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
