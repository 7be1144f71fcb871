import type net from 'node:net';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { listenOrFail, type ServerTls } from '../net/stream-server.js';
import { PEER_OUTPUT_LIMITS, type OutputLimits } from './output-backpressure.js';
import { createPeerListener, describeTlsFailure, type PeerSecurity } from './peer-channel.js';
import { MessageType, type PeerMessage, type PeerReadEntry } from './peer-codec.js';
import { ServerHandshake, localVersions, type VersionRange } from './peer-handshake.js';
import { PeerServerConnection, errorReply, type ConnectionServer } from './peer-server-connection.js';

/** What a node does for its peers' requests: always locally, never forwarded again. */
export interface PeerRequestHandler {
  /** A hit answers synchronously, so the server can reply without a promise. `remoteHost`: the requester's IP. */
  get(keyspace: string, key: string, remoteHost: string): PeerReadReply | Promise<PeerReadReply>;
  /** Reads several keys of one keyspace: each key's answer in their order, within one frame. `remoteHost`: as for get. */
  getMany(keyspace: string, keys: readonly string[], remoteHost: string): Promise<PeerReadEntry[]>;
  /** Stores a value; false when `ifAbsent` and a fresh entry is there. */
  put(
    keyspace: string,
    key: string,
    expiresAt: number,
    value: Uint8Array,
    ifAbsent: boolean,
  ): boolean | Promise<boolean>;
  delete(keyspace: string, key: string): boolean | Promise<boolean>;
  deleteKeyspace(keyspace: string): Promise<void>;
  /** Drops every entry of a keyspace here (a flush another node broadcast). */
  clearKeyspace(keyspace: string): void;
  /** Another node wrote `key`: drop copies of it here. */
  invalidate(keyspace: string, key: string): void | Promise<void>;
}

/** The owner's answer to a GET: the bytes (null = does not exist) and their expiry. */
export interface PeerReadReply {
  readonly bytes: Uint8Array | null;
  readonly expiresAt: number;
}

/** TLS material for the peer port; with `ca`, peers must present a certificate it signed (mutual TLS). */
export type PeerTlsOptions = ServerTls;

/** Connections the peer port accepts at once (nodes keep one each). */
const MAX_CONNECTIONS = 1_024;

/** How a peer server is run; every field has a default. */
export interface PeerServerOptions {
  /** The id clients dial to reach this node (its member id). Default: `host:port` as listened on. */
  readonly selfId?: string;
  /** Protocol versions spoken. Default: this build's, or the test setting DISTCACHE_TEST_PEER_PROTOCOL. */
  readonly versions?: VersionRange;
  /** Bounds of each connection's unsent replies. */
  readonly outputLimits?: OutputLimits;
}

/**
 * The peer port: a listener secured as {@link PeerSecurity} says (TLS 1.3
 * keyed by the cluster key, mutual TLS, or plain TCP), speaking the peer
 * codec. A connection first agrees on a protocol version
 * (peer-handshake.ts), then sends pipelined requests, answered as they
 * complete. A corrupt frame closes that connection only.
 */
export class PeerServer {
  readonly #server: net.Server;
  readonly #connections = new Set<PeerServerConnection>();
  readonly #versions: VersionRange;
  #selfId: string | undefined;
  /** Requests being answered asynchronously: a count, not a Set of their promises, so nothing long-lived churns per request. */
  #inFlight = 0;
  #onDrained: (() => void) | undefined;
  readonly #context: ConnectionServer;

  constructor(
    private readonly handler: PeerRequestHandler,
    security: PeerSecurity,
    logger: Logger,
    options: PeerServerOptions = {},
  ) {
    this.#versions = options.versions ?? localVersions();
    this.#selfId = options.selfId;
    this.#context = {
      logger,
      outputLimits: options.outputLimits ?? PEER_OUTPUT_LIMITS,
      serve: (message, remoteHost) => this.#serve(message, remoteHost),
      asyncStarted: () => this.#inFlight++,
      asyncSettled: () => {
        if (--this.#inFlight === 0) this.#onDrained?.();
      },
    };
    this.#server = createPeerListener(security, (socket) => this.#accept(socket));
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: net.Socket) =>
      logger.warn(
        { remote: socket.remoteAddress, why: describeTlsFailure(security, error) },
        'peer TLS handshake refused',
      ),
    );
  }

  /** Starts listening; rejects with ERR_INVALID_CONFIG when the address cannot be used. */
  async listen(host: string, port: number): Promise<void> {
    this.#selfId ??= `${host}:${port}`;
    await listenOrFail(this.#server, { host, port }, { what: 'peer port', hint: '; change bindAddr or bindPort' });
    this.#server.on('error', (error) => this.#context.logger.error({ err: error.message }, 'peer port error'));
  }

  /**
   * Stops accepting and tells connected peers this node is going away, waits
   * up to `drainMs` for requests in progress, then closes every connection.
   */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.goingAway();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#drained(), new Promise((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    for (const connection of this.#connections) connection.close(); // the last answers, batched for the end of this turn
    await closed;
  }

  /** Resolves once no request is being answered. */
  #drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onDrained = resolve));
  }

  #accept(socket: net.Socket): void {
    const connection = new PeerServerConnection(
      socket,
      this.#context,
      new ServerHandshake(this.#versions, this.#selfId ?? ''),
    );
    this.#connections.add(connection);
    socket.on('close', () => this.#connections.delete(connection));
  }

  /** Answers one request, synchronously when it can; every failure becomes an ERROR reply with the error's code. */
  #serve(message: PeerMessage, remoteHost: string): PeerMessage | Promise<PeerMessage> {
    const requestId = message.requestId;
    const failed = (error: unknown): PeerMessage => errorReply(requestId, error);
    try {
      switch (message.type) {
        case MessageType.GET: {
          const read = this.handler.get(message.keyspace, message.key, remoteHost);
          const toValue = ({ bytes, expiresAt }: PeerReadReply): PeerMessage => ({
            type: MessageType.VALUE,
            requestId,
            found: bytes !== null,
            expiresAt,
            value: bytes ?? EMPTY,
          });
          return read instanceof Promise ? read.then(toValue, failed) : toValue(read);
        }
        case MessageType.GET_MANY:
          return this.handler
            .getMany(message.keyspace, message.keys, remoteHost)
            .then((entries) => ({ type: MessageType.VALUES, requestId, entries }) as PeerMessage, failed);
        case MessageType.PUT:
          return okReply(
            requestId,
            this.handler.put(message.keyspace, message.key, message.expiresAt, message.value, message.ifAbsent),
          );
        case MessageType.DELETE:
          return okReply(requestId, this.handler.delete(message.keyspace, message.key));
        case MessageType.INVALIDATE: {
          const done = this.handler.invalidate(message.keyspace, message.key);
          return okReply(requestId, done instanceof Promise ? done.then(() => true) : true);
        }
        case MessageType.CLEAR_KEYSPACE:
          this.handler.clearKeyspace(message.keyspace);
          return okReply(requestId, true);
        case MessageType.DELETE_KEYSPACE:
          return this.handler
            .deleteKeyspace(message.keyspace)
            .then(() => ({ type: MessageType.OK, requestId, flag: true }) as PeerMessage, failed);
        default:
          throw new DistCacheError(ErrorCode.PROTOCOL, `peer protocol: message type ${message.type} is not a request`);
      }
    } catch (error) {
      return failed(error);
    }
  }
}

const EMPTY = new Uint8Array(0);

/** The OK reply carrying `flag`, once it is known; a failure becomes an ERROR reply. */
function okReply(requestId: number, flag: boolean | Promise<boolean>): PeerMessage | Promise<PeerMessage> {
  if (!(flag instanceof Promise)) return { type: MessageType.OK, requestId, flag };
  return flag.then(
    (known): PeerMessage => ({ type: MessageType.OK, requestId, flag: known }),
    (error: unknown) => errorReply(requestId, error),
  );
}
