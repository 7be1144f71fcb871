import { chmod, chown, rm } from 'node:fs/promises';
import type net from 'node:net';
import type { Logger } from '../logger.js';
import { formatSessionAddress, parseSessionAddress, type SessionAddress } from './address.js';
import { ResponseBatch } from './response-batch.js';
import { boundAddress, closeServer, listenOn, type ServerTls } from './server-socket.js';
import { SessionConnection } from './session-connection.js';
import type { SessionOperations } from './session-operations.js';

const NO_BOUND = { hold: () => false };

/** Settings of the session listener, defaults applied. */
export interface SessionListenerSettings {
  readonly listen: readonly string[];
  readonly tls: ServerTls | undefined;
  /** UNIX socket ownership and mode, like dc_server's -sockowner/-sockgroup/-sockperms. */
  readonly socket: { owner?: number; group?: number; mode?: number } | undefined;
  /** A connection idle this long (ms) is closed. */
  readonly idleTimeout: number;
  readonly maxConnections: number;
}

/**
 * The distcache protocol listener: TCP, UNIX and TLS sockets, each
 * connection persistent and answered strictly in order (as dc_server does;
 * see {@link SessionConnection}). A corrupt or incompatible frame closes that
 * connection only; an idle connection is closed after `idleTimeout`. A
 * request the cache cannot serve (no node reachable) is answered
 * DISCONNECTED, as dc_client answers while its server is down.
 */
export class SessionListener {
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #unixPaths: string[] = [];
  readonly #batch = new ResponseBatch();

  constructor(
    private readonly settings: SessionListenerSettings,
    private readonly operations: SessionOperations,
    private readonly logger: Logger,
  ) {}

  /** Listens on every address; rejects with ERR_INVALID_CONFIG when one cannot be used. */
  async start(): Promise<void> {
    const addresses = this.settings.listen.map(parseSessionAddress);
    try {
      for (const address of addresses) await this.#listen(address);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** The addresses listened on. */
  addresses(): string[] {
    return this.#servers.map(boundAddress);
  }

  /** Closes the servers and every connection. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#servers.map(closeServer));
    this.#servers.length = 0;
    await Promise.all(this.#unixPaths.map((path) => rm(path, { force: true })));
  }

  async #listen(address: SessionAddress): Promise<void> {
    const server = await listenOn(address, (socket) => this.#serve(socket), {
      tls: this.settings.tls,
      maxConnections: this.settings.maxConnections,
    });
    server.on('error', (error) => this.logger.error({ err: error.message }, 'session listener error'));
    this.#servers.push(server);
    if (address.kind === 'unix') {
      this.#unixPaths.push(address.path);
      await this.#applySocketPermissions(address.path);
    }
    this.logger.info(
      { address: formatSessionAddress(address), tls: this.settings.tls !== undefined },
      'distcache session listener started',
    );
  }

  async #applySocketPermissions(path: string): Promise<void> {
    const { owner, group, mode } = this.settings.socket ?? {};
    if (owner !== undefined || group !== undefined) await chown(path, owner ?? -1, group ?? -1);
    if (mode !== undefined) await chmod(path, mode);
  }

  #serve(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay?.(true);
    socket.setTimeout(this.settings.idleTimeout, () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    new SessionConnection(socket, this.operations, this.logger, this.#batch, NO_BOUND);
  }
}
