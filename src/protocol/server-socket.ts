import { rm } from 'node:fs/promises';
import type net from 'node:net';
import { createStreamServer, listenOrFail, type ServerTls } from '../net/stream-server.js';
import { formatSessionAddress, type SessionAddress } from './address.js';

export type { ServerTls } from '../net/stream-server.js';

/**
 * Listens on a session address (TCP or UNIX, optionally TLS) for the session
 * listener, the proxy and the snooper. A stale UNIX socket file is replaced;
 * a failure is ERR_INVALID_CONFIG naming the address.
 */
export async function listenOn(
  address: SessionAddress,
  onConnection: (socket: net.Socket) => void,
  options: { tls?: ServerTls; maxConnections?: number } = {},
): Promise<net.Server> {
  const server = createStreamServer(options.tls, onConnection);
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  if (address.kind === 'unix') await rm(address.path, { force: true });
  const target = address.kind === 'unix' ? { path: address.path } : { host: address.host, port: address.port };
  await listenOrFail(server, target, { what: 'distcache protocol', where: formatSessionAddress(address) });
  return server;
}

/** The bound address of a server, in the C tools' syntax. */
export function boundAddress(server: net.Server): string {
  const bound = server.address();
  return typeof bound === 'string' ? `UNIX:${bound}` : `IP:${bound!.address}:${bound!.port}`;
}

/** Closes a server; resolves once it no longer listens. */
export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
