import type net from 'node:net';
import { DistCacheError, ErrorCode } from '../errors.js';
import { UNKNOWN_VERSION, type VersionedCopy } from '../keyspace/versions.js';
import type { Logger } from '../logger.js';
import { listenOrFail, type ServerTls } from '../net/stream-server.js';
import { PEER_OUTPUT_LIMITS, type OutputLimits } from './output-backpressure.js';
import { createPeerListener, describeTlsFailure, type PeerSecurity } from './peer-channel.js';
import { MessageType, type KeyCopy, type PeerMessage, type PeerReadEntry } from './peer-codec.js';
import { ServerHandshake, localVersions, type VersionRange } from './peer-handshake.js';
import { PeerServerConnection, errorReply, type ConnectionServer } from './peer-server-connection.js';

/** What a node does for its peers' requests: locally (a write for a key it does not own is sent on to the owners). */
export interface PeerRequestHandler {
  /** A hit answers synchronously, so the server can reply without a promise. `remoteHost`: the requester's IP. */
  get(keyspace: string, key: string, remoteHost: string): PeerReadReply | Promise<PeerReadReply>;
  /** Reads several keys of one keyspace: each key's answer in their order, within one frame. `remoteHost`: as for get. */
  getMany(keyspace: string, keys: readonly string[], remoteHost: string): Promise<PeerReadEntry[]>;
  /** Stores a value; false when `ifAbsent` and a fresh entry is there. */
  put(write: PeerPut): boolean | Promise<boolean>;
  /** Deletes a key; whether a value was held. */
  delete(write: PeerDelete): boolean | Promise<boolean>;
  deleteKeyspace(keyspace: string): Promise<void>;
  /** Drops every entry of a keyspace here (a flush another node broadcast). */
  clearKeyspace(keyspace: string): void;
  /** Another node wrote `key` with `version` (UNKNOWN_VERSION: a node too old to say): drop older copies of it here. */
  invalidate(keyspace: string, key: string, version: number): void | Promise<void>;
  /** This node's copy of `key` as held (a tombstone, expired), without loading; undefined when none. */
  peek(keyspace: string, key: string): VersionedCopy | undefined;
  /** Copies from another node, each applied when newer than the one held; whether this node owns every key. */
  merge(keyspace: string, entries: readonly KeyCopy[]): boolean | Promise<boolean>;
  /** `requester` asks for the entries it owns: resolves once they were sent. */
  sync(requester: string): Promise<void>;
}

/** A put from another node. */
export interface PeerPut {
  readonly keyspace: string;
  readonly key: string;
  readonly expiresAt: number;
  readonly value: Uint8Array;
  readonly ifAbsent: boolean;
  /** The writer could not reach an owner: this node keeps the copy for it. */
  readonly standIn: boolean;
  /** The writer's stamp (0 from a node too old to send one): the write is stored above it. */
  readonly version: number;
}

/** A delete from another node. */
export interface PeerDelete {
  readonly keyspace: string;
  readonly key: string;
  readonly standIn: boolean;
  readonly version: number;
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
        case MessageType.VERSIONED_PUT:
          return okReply(requestId, this.handler.put(asVersioned(message)));
        case MessageType.DELETE:
          return okReply(requestId, this.handler.delete({ ...message, standIn: false, version: 0 }));
        case MessageType.VERSIONED_DELETE:
          return okReply(requestId, this.handler.delete(message));
        case MessageType.INVALIDATE:
        case MessageType.VERSIONED_INVALIDATE: {
          const version = message.type === MessageType.VERSIONED_INVALIDATE ? message.version : UNKNOWN_VERSION;
          const done = this.handler.invalidate(message.keyspace, message.key, version);
          return okReply(requestId, done instanceof Promise ? done.then(() => true) : true);
        }
        case MessageType.CLEAR_KEYSPACE:
          this.handler.clearKeyspace(message.keyspace);
          return okReply(requestId, true);
        case MessageType.DELETE_KEYSPACE:
          return okReply(
            requestId,
            this.handler.deleteKeyspace(message.keyspace).then(() => true),
          );
        case MessageType.PEEK:
          return { type: MessageType.COPY, requestId, copy: this.handler.peek(message.keyspace, message.key) };
        case MessageType.HANDOFF:
          return okReply(requestId, this.handler.merge(message.keyspace, message.entries));
        case MessageType.SYNC:
          return okReply(
            requestId,
            this.handler.sync(message.requester).then(() => true),
          );
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

/** A put as the handler takes it; one from a node too old to version it has no stamp and no stand-in flag. */
function asVersioned(
  message: Extract<PeerMessage, { type: typeof MessageType.PUT | typeof MessageType.VERSIONED_PUT }>,
): PeerPut {
  return message.type === MessageType.VERSIONED_PUT ? message : { ...message, standIn: false, version: 0 };
}
