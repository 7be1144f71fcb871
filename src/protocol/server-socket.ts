import { rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { DistCacheError, ErrorCode } from '../errors.js';
import { formatSessionAddress, type SessionAddress } from './address.js';

/** TLS material of a listening socket; with `ca`, clients must present a certificate it signed. */
export interface ServerTls {
  key: string | Buffer;
  cert: string | Buffer;
  ca?: string | Buffer;
}

/**
 * Listens on a session address (TCP or UNIX, optionally TLS) for the session
 * listener, the proxy and the snooper. A stale UNIX socket file is replaced;
 * a failure is ERR_INVALID_CONFIG naming the address.
 */
export async function listenOn(address: SessionAddress, onConnection: (socket: net.Socket) => void, options: { tls?: ServerTls; maxConnections?: number } = {}): Promise<net.Server> {
  const { tls: tlsOptions } = options;
  const server = tlsOptions ? tls.createServer({ ...tlsOptions, requestCert: tlsOptions.ca !== undefined, rejectUnauthorized: tlsOptions.ca !== undefined }, onConnection) : net.createServer(onConnection);
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  if (address.kind === 'unix') await rm(address.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new DistCacheError(ErrorCode.INVALID_CONFIG, `cannot listen on ${formatSessionAddress(address)} (${error.code ?? error.message})`, { cause: error })),
    );
    server.listen(address.kind === 'unix' ? { path: address.path } : { host: address.host, port: address.port }, () => resolve());
  });
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
