import net from 'node:net';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createStreamServer, listenOrFail, type ServerTls } from '../net/stream-server.js';
import { BatchedWriter } from './batched-writer.js';
import type { ClusterKeyProof } from './peer-auth.js';
import {
  MAX_PEER_FRAME_BYTES,
  MessageType,
  PEER_PROTOCOL_VERSION,
  PeerMessageDecoder,
  encodePeerMessage,
  type PeerMessage,
} from './peer-codec.js';

/** What a node does for its peers' requests: always locally, never forwarded again. */
export interface PeerRequestHandler {
  /** A hit answers synchronously, so the server can reply without a promise. `remoteHost`: the requester's IP. */
  get(keyspace: string, key: string, remoteHost: string): PeerReadReply | Promise<PeerReadReply>;
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

/** Requests one connection may have in progress; past it the server stops reading from that connection. */
const MAX_IN_FLIGHT_PER_CONNECTION = 1024;
/** Time a new connection has to complete the handshake. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** Largest frame before the handshake completes: a stranger cannot make the server buffer more. */
const HANDSHAKE_FRAME_BYTES = 256;
/** Connections the peer port accepts at once (nodes keep one each). */
const MAX_CONNECTIONS = 1_024;

/**
 * The peer port: a TCP (or TLS) listener speaking the peer codec. A
 * connection first proves the cluster key (HELLO → HELLO_REPLY → AUTH), then
 * sends pipelined requests, answered as they complete. A corrupt frame
 * closes that connection only.
 */
export class PeerServer {
  readonly #server: net.Server;
  /** Open connections and their writers. */
  readonly #connections = new Map<net.Socket, BatchedWriter>();
  /** Requests being answered asynchronously: a count, not a Set of their promises, so nothing long-lived churns per request. */
  #inFlight = 0;
  #onDrained: (() => void) | undefined;

  constructor(
    private readonly handler: PeerRequestHandler,
    private readonly proof: ClusterKeyProof,
    private readonly logger: Logger,
    tlsOptions: PeerTlsOptions | undefined,
  ) {
    const onConnection = (socket: net.Socket): void => this.#accept(socket);
    this.#server = createStreamServer(tlsOptions, onConnection);
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.on('tlsClientError', (error) =>
      this.logger.warn({ err: error.message }, 'peer TLS handshake refused'),
    );
  }

  /** Starts listening; rejects with ERR_INVALID_CONFIG when the address cannot be used. */
  async listen(host: string, port: number): Promise<void> {
    await listenOrFail(this.#server, { host, port }, { what: 'peer port', hint: '; change bindAddr or bindPort' });
    this.#server.on('error', (error) => this.logger.error({ err: error.message }, 'peer port error'));
  }

  /** Stops accepting, waits up to `drainMs` for requests in progress, then closes every connection. */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#drained(), new Promise((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    for (const [socket, writer] of this.#connections) {
      writer.flush(); // the last answers, batched for the end of this turn
      socket.destroy();
    }
    await closed;
  }

  /** Resolves once no request is being answered. */
  #drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onDrained = resolve));
  }

  #accept(socket: net.Socket): void {
    // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    const remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const writer = new BatchedWriter(socket);
    this.#connections.set(socket, writer);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new PeerMessageDecoder();
    decoder.maxFrameBytes = HANDSHAKE_FRAME_BYTES;
    const challenge = this.proof.nonce();
    let state: 'hello' | 'auth' | 'ready' = 'hello';
    let pending = 0;
    const handshakeTimer = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    socket.on('close', () => clearTimeout(handshakeTimer));

    const refuse = (why: string): void => {
      this.logger.warn({ remote: socket.remoteAddress, why }, 'peer connection refused');
      socket.destroy();
    };

    socket.on('data', (chunk: Buffer) => {
      let messages: PeerMessage[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        refuse((error as Error).message);
        return;
      }
      for (const message of messages) {
        if (state === 'hello') {
          if (message.type !== MessageType.HELLO || message.version !== PEER_PROTOCOL_VERSION)
            return refuse('expected a HELLO of this protocol version');
          socket.write(
            encodePeerMessage({
              type: MessageType.HELLO_REPLY,
              requestId: 0,
              version: PEER_PROTOCOL_VERSION,
              nonce: challenge,
              proof: this.proof.prove(message.nonce),
            }),
          );
          state = 'auth';
        } else if (state === 'auth') {
          if (message.type !== MessageType.AUTH || !this.proof.verify(challenge, message.proof))
            return refuse('wrong cluster key');
          clearTimeout(handshakeTimer);
          decoder.maxFrameBytes = MAX_PEER_FRAME_BYTES;
          state = 'ready';
        } else {
          const reply = this.#serve(message, remoteHost);
          if (!(reply instanceof Promise)) {
            writeReply(writer, reply);
            continue;
          }
          pending++;
          if (pending >= MAX_IN_FLIGHT_PER_CONNECTION) socket.pause();
          this.#inFlight++;
          void reply
            .then((answer) => {
              writeReply(writer, answer);
              pending--;
              if (pending < MAX_IN_FLIGHT_PER_CONNECTION) socket.resume();
            })
            .finally(() => {
              if (--this.#inFlight === 0) this.#onDrained?.();
            });
        }
      }
    });
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

/** The ERROR reply that carries `error`'s code to the requester. */
function errorReply(requestId: number, error: unknown): PeerMessage {
  return {
    type: MessageType.ERROR,
    requestId,
    code: isDistCacheError(error) ? error.code : ErrorCode.DATASOURCE_FAILED,
    message: (error as Error)?.message ?? String(error),
  };
}

/** Sends a reply; one that cannot be encoded (a value over the frame limit) is answered with its error instead. */
function writeReply(writer: BatchedWriter, reply: PeerMessage): void {
  try {
    writer.write(reply);
  } catch (error) {
    writer.write(errorReply(reply.requestId, error));
  }
}
