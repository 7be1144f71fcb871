import net from 'node:net';
import tls from 'node:tls';
import { DistCacheError, ErrorCode } from '../errors.js';

/** TLS material of a listening socket; with `ca`, clients must present a certificate it signed (mutual TLS). */
export interface ServerTls {
  key: string | Buffer;
  cert: string | Buffer;
  ca?: string | Buffer;
}

/** A plain TCP server, or a TLS one that requires client certificates signed by `tls.ca` when given. */
export function createStreamServer(
  tlsOptions: ServerTls | undefined,
  onConnection: (socket: net.Socket) => void,
): net.Server {
  if (tlsOptions === undefined) return net.createServer(onConnection);
  const mutual = tlsOptions.ca !== undefined;
  return tls.createServer({ ...tlsOptions, requestCert: mutual, rejectUnauthorized: mutual }, onConnection);
}

/** How a listen failure is reported: "`what`: cannot listen on `where` (EADDRINUSE)`hint`". */
export interface ListenLabel {
  /** The listener, e.g. `peer port`. */
  what: string;
  /** The address as the user wrote it; default `host:port` or the socket path. */
  where?: string;
  /** What to change, e.g. `; change bindAddr or bindPort`. */
  hint?: string;
}

/**
 * Starts `server` listening on `target`. An address that cannot be used
 * (in use, not local, no permission) rejects with ERR_INVALID_CONFIG.
 */
export function listenOrFail(server: net.Server, target: net.ListenOptions, label: ListenLabel): Promise<void> {
  const { what, where = target.path ?? `${target.host}:${target.port}`, hint = '' } = label;
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void =>
      reject(
        new DistCacheError(
          ErrorCode.INVALID_CONFIG,
          `${what}: cannot listen on ${where} (${error.code ?? error.message})${hint}`,
          { cause: error },
        ),
      );
    server.once('error', fail);
    server.listen(target, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
