import type net from 'node:net';
import { DistCacheError, ErrorCode, type ErrorCode as Code } from '../errors.js';
import { splitHostPort } from '../net/host-port.js';
import { Telemetry } from '../observability/telemetry.js';
import { BatchedWriter } from './batched-writer.js';
import { OutputBackpressure, PEER_OUTPUT_LIMITS, type OutputLimits } from './output-backpressure.js';
import { connectPeer, describePeerFailure, type PeerSecurity } from './peer-channel.js';
import {
  MessageType,
  PeerMessageDecoder,
  encodePeerMessage,
  type DistributiveOmit,
  type PeerMessage,
} from './peer-codec.js';
import {
  ClientHandshake,
  GOING_AWAY_SINCE,
  VERSIONS_SINCE,
  localVersions,
  type VersionRange,
} from './peer-handshake.js';
import { PendingRequests } from './pending-requests.js';

type RequestType =
  | typeof MessageType.GET
  | typeof MessageType.PUT
  | typeof MessageType.DELETE
  | typeof MessageType.DELETE_KEYSPACE
  | typeof MessageType.INVALIDATE
  | typeof MessageType.CLEAR_KEYSPACE
  | typeof MessageType.GET_MANY
  | typeof MessageType.VERSIONED_PUT
  | typeof MessageType.VERSIONED_DELETE
  | typeof MessageType.VERSIONED_INVALIDATE
  | typeof MessageType.PEEK
  | typeof MessageType.HANDOFF
  | typeof MessageType.SYNC;

/** A request a client can send (the transport adds the request id). */
export type PeerRequest = DistributiveOmit<Extract<PeerMessage, { type: RequestType }>, 'requestId'>;

/**
 * An error the peer answered with (its data source failed, the keyspace is
 * unknown there, ...), as opposed to a failure to reach the peer.
 */
export class PeerReplyError extends DistCacheError {}

/** Message type names, for metrics and spans. */
const MESSAGE_NAMES: Record<RequestType, string> = {
  [MessageType.GET]: 'GET',
  [MessageType.PUT]: 'PUT',
  [MessageType.DELETE]: 'DELETE',
  [MessageType.DELETE_KEYSPACE]: 'DELETE_KEYSPACE',
  [MessageType.INVALIDATE]: 'INVALIDATE',
  [MessageType.CLEAR_KEYSPACE]: 'CLEAR_KEYSPACE',
  [MessageType.GET_MANY]: 'GET_MANY',
  [MessageType.VERSIONED_PUT]: 'PUT',
  [MessageType.VERSIONED_DELETE]: 'DELETE',
  [MessageType.VERSIONED_INVALIDATE]: 'INVALIDATE',
  [MessageType.PEEK]: 'PEEK',
  [MessageType.HANDOFF]: 'HANDOFF',
  [MessageType.SYNC]: 'SYNC',
};

/** Requests one connection may have waiting for an answer; past it requests fail at once. */
const MAX_PENDING = 8_192;
/** Bytes of the buffer a plain-TCP connection reads into, reused for every read. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Time to connect and complete the handshake. */
const CONNECT_TIMEOUT_MS = 3_000;

/** How a peer client is run; every field has a default. */
export interface PeerClientOptions {
  readonly telemetry?: Telemetry;
  /** Protocol versions spoken. Default: this build's, or the test setting DISTCACHE_TEST_PEER_PROTOCOL. */
  readonly versions?: VersionRange;
  /** Bounds of the requests the connection may hold unsent. */
  readonly outputLimits?: OutputLimits;
  /** The local address to connect from, so the peer sees which member this is. Default: any. */
  readonly localAddress?: string | undefined;
}

/** The connected, accepted socket and what its handshake decided. */
interface Connection {
  readonly socket: net.Socket;
  readonly writer: BatchedWriter;
  readonly output: OutputBackpressure;
  /** The protocol version the handshake chose. */
  readonly version: number;
  /** Set once the peer said it is stopping: new requests go elsewhere. */
  goingAway: boolean;
}

/** How often pending requests are checked against their deadlines: one timer per connection, not one per request. */
const SWEEP_INTERVAL_MS = 50;

/**
 * One persistent, pipelined connection to one peer's port. Connects on first
 * use and again after a failure; every request has a request id and its own
 * timeout. A lost connection fails its pending requests with
 * ERR_PEER_UNAVAILABLE, which the router answers by trying the next node, and
 * so does a request the connection cannot take now: the peer is stopping, or
 * has left too many requests unread.
 */
export class PeerClient {
  readonly #host: string;
  readonly #port: number;
  readonly #security: PeerSecurity;
  readonly #telemetry: Telemetry;
  readonly #versions: VersionRange;
  readonly #outputLimits: OutputLimits;
  readonly #localAddress: string | undefined;
  /** The socket being connected or connected. */
  #socket: net.Socket | undefined;
  /** The connection once its handshake is done. */
  #connection: Connection | undefined;
  #ready: Promise<Connection> | undefined;
  readonly #pending = new PendingRequests<PeerMessage>(MAX_PENDING);
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly address: string,
    security: PeerSecurity,
    options: PeerClientOptions = {},
  ) {
    ({ host: this.#host, port: this.#port } = splitHostPort(address));
    this.#security = security;
    this.#telemetry = options.telemetry ?? new Telemetry(undefined);
    this.#versions = options.versions ?? localVersions();
    this.#outputLimits = options.outputLimits ?? PEER_OUTPUT_LIMITS;
    this.#localAddress = options.localAddress;
  }

  /** Sends one request; resolves its reply, or rejects with ERR_PEER_UNAVAILABLE, ERR_TIMEOUT or the peer's error. */
  request(request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    if (!this.#telemetry.active) return this.#request(request, timeoutMs);
    return this.#telemetry.peerRequest(this.address, MESSAGE_NAMES[request.type], () =>
      this.#request(request, timeoutMs),
    );
  }

  #request(request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    if (this.#connection !== undefined) return this.#send(this.#connection, request, timeoutMs);
    return this.#connected().then((connection) => this.#send(connection, request, timeoutMs));
  }

  #send(connection: Connection, request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    if (connection.goingAway) return Promise.reject(this.#unavailable('it is stopping'));
    if (connection.output.backedUp())
      return Promise.reject(this.#unavailable('it is not reading the requests already sent'));
    const spoken = connection.version < VERSIONS_SINCE ? unversioned(request) : request;
    if (spoken === undefined)
      return Promise.reject(
        this.#unavailable(`it speaks protocol version ${connection.version}, without entry versions`),
      );
    const requestId = this.#pending.nextId();
    if (requestId === undefined) return Promise.reject(this.#unavailable(`${MAX_PENDING} requests already waiting`));
    try {
      connection.writer.write(spoken, requestId);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<PeerMessage>((resolve, reject) => {
      this.#pending.add({ requestId, resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs });
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    });
  }

  /**
   * Connects and completes the handshake (or reuses the connection); resolves
   * the protocol version the connection speaks, or rejects with
   * ERR_PEER_UNAVAILABLE when refused.
   */
  async verify(): Promise<number> {
    return (await this.#connected()).version;
  }

  /** Closes the connection; pending requests fail. */
  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#fail(this.#unavailable('client closed'));
  }

  #connected(): Promise<Connection> {
    if (this.#closed) return Promise.reject(this.#unavailable('client closed'));
    this.#ready ??= this.#connect().catch((error: unknown) => {
      this.#ready = undefined;
      throw error instanceof DistCacheError ? error : this.#unavailable((error as Error).message);
    });
    return this.#ready;
  }

  #connect(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      // Plain TCP reads into one reused buffer (the decoder copies what it keeps): a 'data'
      // event costs an ArrayBuffer per read, and V8 sweeps every young one at each scavenge.
      const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
      const onread = {
        buffer: readBuffer,
        callback: (bytes: number): boolean => {
          onData(readBuffer.subarray(0, bytes)); // defined below; reads start after connecting
          return true;
        },
      };
      const target = { host: this.#host, port: this.#port, localAddress: this.#localAddress };
      const { socket, readyEvent } = connectPeer(this.#security, target, onread);
      this.#socket = socket;
      socket.setNoDelay(true);
      const decoder = new PeerMessageDecoder();
      const handshake = new ClientHandshake(this.#versions, this.address);
      let connection: Connection | undefined;
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), CONNECT_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        if (this.#socket === socket) {
          this.#socket = undefined;
          this.#connection = undefined;
          this.#ready = undefined;
        }
        if (connection === undefined) reject(this.#unavailable(describePeerFailure(this.#security, error)));
        this.#fail(this.#unavailable(error.message));
      };
      socket.once(readyEvent, () => socket.write(encodePeerMessage(handshake.hello())));
      socket.on('error', (error) => fail(error));
      socket.on('close', () => fail(new Error('connection closed')));
      const accept = (version: number): Connection => {
        clearTimeout(timer);
        const writer = new BatchedWriter(socket);
        const output = new OutputBackpressure(socket, writer, this.#outputLimits, {
          onStalled: () => socket.destroy(new Error('it read none of our requests within the stall timeout')),
          onRelieved: () => undefined, // new requests are taken again
        });
        return { socket, writer, output, version, goingAway: false };
      };
      const onData = (chunk: Buffer): void => {
        let messages: PeerMessage[];
        try {
          messages = decoder.push(chunk);
        } catch (error) {
          socket.destroy(error as Error);
          return;
        }
        for (const message of messages) {
          if (connection === undefined) {
            const verdict = handshake.receive(message);
            if (!verdict.accepted) {
              socket.destroy(new Error(verdict.reason));
              return;
            }
            connection = this.#connection = accept(verdict.version);
            resolve(connection);
          } else if (message.type === MessageType.GOING_AWAY) {
            if (connection.version < GOING_AWAY_SINCE) {
              socket.destroy(new Error(`GOING_AWAY is not part of protocol version ${connection.version}`));
              return;
            }
            connection.goingAway = true;
          } else {
            this.#settle(message);
          }
        }
      };
      if (readyEvent === 'secureConnect') socket.on('data', onData);
    });
  }

  /** Hands a reply to the request waiting for it. */
  #settle(message: PeerMessage): void {
    const pending = this.#pending.take(message.requestId);
    if (pending === undefined) return; // answered after its timeout
    if (message.type === MessageType.ERROR)
      pending.reject(new PeerReplyError(message.code as Code, `peer ${this.address}: ${message.message}`));
    else pending.resolve(message);
  }

  #fail(error: DistCacheError): void {
    for (const pending of this.#pending.takeAll()) pending.reject(error);
    this.#stopSweeping();
  }

  /** Fails the requests past their deadline; stops itself when nothing is pending. */
  #sweep(): void {
    for (const pending of this.#pending.takeExpired(performance.now())) {
      pending.reject(
        new DistCacheError(ErrorCode.TIMEOUT, `peer ${this.address} did not answer within ${pending.timeoutMs} ms`),
      );
    }
    if (this.#pending.size === 0) this.#stopSweeping();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #unavailable(why: string): DistCacheError {
    return new DistCacheError(ErrorCode.PEER_UNAVAILABLE, `peer ${this.address} is unavailable: ${why}`);
  }
}

/** `request` as a node older than {@link VERSIONS_SINCE} takes it, or undefined when such a node has no such request. */
function unversioned(request: PeerRequest): PeerRequest | undefined {
  switch (request.type) {
    case MessageType.VERSIONED_PUT: {
      const { keyspace, key, expiresAt, ifAbsent, value } = request;
      return { type: MessageType.PUT, keyspace, key, expiresAt, ifAbsent, value };
    }
    case MessageType.VERSIONED_DELETE:
      return { type: MessageType.DELETE, keyspace: request.keyspace, key: request.key };
    case MessageType.VERSIONED_INVALIDATE:
      return { type: MessageType.INVALIDATE, keyspace: request.keyspace, key: request.key };
    case MessageType.PEEK:
    case MessageType.HANDOFF:
    case MessageType.SYNC:
      return undefined;
    default:
      return request;
  }
}
