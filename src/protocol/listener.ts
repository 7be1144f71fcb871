import type net from 'node:net';
import type { Logger } from '../logger.js';
import { IdleSweep } from '../net/idle-sweep.js';
import { OutputGate } from '../net/output-gate.js';
import { parseSessionAddress, type SessionAddress } from './address.js';
import { ResponseBatch } from './response-batch.js';
import { listenOn, type ListeningAddress, type ServerTls, type SocketPermissions } from './server-socket.js';
import { SessionConnection } from './session-connection.js';
import type { SessionOperations } from './session-operations.js';

const READ_BUFFER_BYTES = 64 * 1024;

/** Settings of the session listener, defaults applied. */
export interface SessionListenerSettings {
  readonly listen: readonly string[];
  readonly tls: ServerTls | undefined;
  /** UNIX socket ownership and mode, like dc_server's -sockowner/-sockgroup/-sockperms. */
  readonly socket: SocketPermissions | undefined;
  /**
   * A connection idle this long (ms) is closed, and so is one whose unsent
   * answers stay over the output bound this long (a client that does not read).
   */
  readonly idleTimeout: number;
  readonly maxConnections: number;
}

/**
 * The distcache protocol listener: TCP, UNIX and TLS sockets, each
 * connection persistent and answered strictly in order (as dc_server does;
 * see {@link SessionConnection}). A corrupt or incompatible frame closes that
 * connection only; an idle connection is closed after `idleTimeout`. A
 * request the cache cannot serve (no node reachable) is answered
 * DISCONNECTED, as dc_client answers while its server is down. A client that
 * does not read its answers is read no further once they exceed the output
 * bound (see {@link OutputGate}), and closed if it does not catch up.
 */
export class SessionListener {
  readonly #listening: ListeningAddress[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #batch = new ResponseBatch();
  /** The buffer every plain connection reads into (see {@link SessionConnection}); the size of Node's own reads. */
  readonly #readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  readonly #idle: IdleSweep;
  /** stop() was called: a connection accepted since (a UNIX server accepts until its file is removed) is closed. */
  #stopping = false;

  constructor(
    private readonly settings: SessionListenerSettings,
    private readonly operations: SessionOperations,
    private readonly logger: Logger,
  ) {
    this.#idle = new IdleSweep(settings.idleTimeout);
  }

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
    return this.#listening.map((listening) => listening.address);
  }

  /** Closes the servers and every connection; removes the UNIX sockets this listener created. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#idle.stop();
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#listening.map((listening) => listening.close()));
    this.#listening.length = 0;
  }

  async #listen(address: SessionAddress): Promise<void> {
    const listening = await listenOn(address, (socket) => this.#serve(socket), {
      tls: this.settings.tls,
      maxConnections: this.settings.maxConnections,
      permissions: this.settings.socket,
    });
    listening.server.on('error', (error) => this.logger.error({ err: error.message }, 'session listener error'));
    this.#listening.push(listening);
    this.logger.info(
      { address: listening.address, tls: this.settings.tls !== undefined },
      'distcache session listener started',
    );
  }

  #serve(socket: net.Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay?.(true);
    socket.on('error', () => socket.destroy());
    const output = new OutputGate(socket, this.settings.idleTimeout, () => connection.resume());
    const connection = new SessionConnection(
      socket,
      this.operations,
      this.logger,
      this.#batch,
      output,
      this.#readBuffer,
    );
    this.#idle.watch(connection);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#idle.unwatch(connection);
    });
  }
}
