import type net from 'node:net';
import type { Logger } from '../logger.js';
import { OutputGate } from '../net/output-gate.js';
import { parseSessionAddress, type SessionAddress } from './address.js';
import { DcMessageDecoder, DcProtocolError, encodeMessage, Status, type DcMessage } from './codec.js';
import { listenOn, type ListeningAddress, type ServerTls, type SocketPermissions } from './server-socket.js';
import type { SessionOperations } from './session-operations.js';

const DISCONNECTED = Uint8Array.of(Status.DISCONNECTED);

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
 * connection persistent and answered strictly in order, one request at a
 * time (as dc_server does). A corrupt or incompatible frame closes that
 * connection only; an idle connection is closed after `idleTimeout`. A
 * request the cache cannot serve (no node reachable) is answered
 * DISCONNECTED, as dc_client answers while its server is down. A client that
 * does not read its answers is read no further once they exceed the output
 * bound (see {@link OutputGate}), and closed if it does not catch up.
 */
export class SessionListener {
  readonly #listening: ListeningAddress[] = [];
  readonly #sockets = new Set<net.Socket>();

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
    return this.#listening.map((listening) => listening.address);
  }

  /** Closes the servers and every connection; removes the UNIX sockets this listener created. */
  async stop(): Promise<void> {
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
    this.#sockets.add(socket);
    socket.setNoDelay?.(true);
    socket.setTimeout(this.settings.idleTimeout, () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new DcMessageDecoder();
    const queue: DcMessage[] = [];
    let busy = false;
    let failures = 0;

    const next = async (): Promise<void> => {
      busy = true;
      // One request at a time, and none while the client has not read the answers already sent.
      while (queue.length > 0 && !socket.destroyed && !output.hold()) {
        const request = queue.shift()!;
        let data: Uint8Array;
        try {
          data = await this.operations.answer(request);
        } catch (error) {
          if (error instanceof DcProtocolError) {
            // A request dc_server cannot parse (an ADD shorter than its header) gets no answer: like
            // dc_server, close the connection once the answers before it are sent, and read no further.
            this.logger.warn(
              { remote: socket.remoteAddress, fault: error.fault, err: error.message },
              'closing a session connection',
            );
            queue.length = 0;
            socket.end(() => socket.destroy());
            return;
          }
          // The cache could not serve it (no node reachable, a timeout): answer as a proxy whose
          // server is down does, and keep the connection; the client treats it as a miss.
          const level = failures++ === 0 ? 'warn' : 'debug';
          this.logger[level]({ err: (error as Error).message }, 'session request failed; answered DISCONNECTED');
          data = DISCONNECTED;
        }
        if (!socket.destroyed)
          socket.write(
            encodeMessage({ isResponse: true, requestUid: request.requestUid, operation: request.operation, data }),
          );
      }
      busy = false;
      if (queue.length === 0 && !output.hold()) socket.resume();
    };
    const output = new OutputGate(socket, this.settings.idleTimeout, () => {
      if (!busy) void next();
    });

    socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of decoder.push(chunk)) {
          if (message.isResponse) throw new DcProtocolError('corrupt', 'a client sent a response');
          queue.push(message);
        }
      } catch (error) {
        const fault = error instanceof DcProtocolError ? error.fault : 'corrupt';
        this.logger.warn(
          { remote: socket.remoteAddress, fault, err: (error as Error).message },
          'closing a session connection',
        );
        socket.destroy();
        return;
      }
      // Requests are answered one at a time; a client that pipelines far ahead is read no further until they are.
      if (queue.length > 0) socket.pause();
      if (!busy && queue.length > 0) void next();
    });
  }
}
