import net from 'node:net';
import tls from 'node:tls';
import { DistCacheError, ErrorCode, type ErrorCode as Code } from '../errors.js';
import { splitHostPort } from '../net/host-port.js';
import { Telemetry } from '../observability/telemetry.js';
import { BatchedWriter } from './batched-writer.js';
import type { ClusterKeyProof } from './peer-auth.js';
import {
  MessageType,
  PEER_PROTOCOL_VERSION,
  PeerMessageDecoder,
  encodePeerMessage,
  type DistributiveOmit,
  type PeerMessage,
} from './peer-codec.js';
import type { PeerTlsOptions } from './peer-server.js';
import { PendingRequests } from './pending-requests.js';

/** A request a client can send (the transport adds the request id). */
export type PeerRequest = DistributiveOmit<Extract<PeerMessage, { type: 10 | 11 | 12 | 13 | 14 | 15 }>, 'requestId'>;

/**
 * An error the peer answered with (its data source failed, the keyspace is
 * unknown there, ...), as opposed to a failure to reach the peer.
 */
export class PeerReplyError extends DistCacheError {}

/** Message type names, for metrics and spans. */
const MESSAGE_NAMES: Record<PeerRequest['type'], string> = {
  10: 'GET',
  11: 'PUT',
  12: 'DELETE',
  13: 'DELETE_KEYSPACE',
  14: 'INVALIDATE',
  15: 'CLEAR_KEYSPACE',
};

/** Requests one connection may have waiting for an answer; past it requests fail at once. */
const MAX_PENDING = 8_192;
/** Bytes of the buffer a plain-TCP connection reads into, reused for every read. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Time to connect and complete the handshake. */
const CONNECT_TIMEOUT_MS = 3_000;

/** How often pending requests are checked against their deadlines: one timer per connection, not one per request. */
const SWEEP_INTERVAL_MS = 50;

/**
 * One persistent, pipelined connection to one peer's port. Connects on first
 * use and again after a failure; every request has a request id and its own
 * timeout. A lost connection fails its pending requests with
 * ERR_PEER_UNAVAILABLE, which the router answers by trying the next node.
 */
export class PeerClient {
  readonly #host: string;
  readonly #port: number;
  /** The writer of the connected, authenticated socket. */
  #writer: BatchedWriter | undefined;
  #socket: net.Socket | undefined;
  #ready: Promise<BatchedWriter> | undefined;
  readonly #pending = new PendingRequests<PeerMessage>(MAX_PENDING);
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly address: string,
    private readonly proof: ClusterKeyProof,
    private readonly tlsOptions: PeerTlsOptions | undefined,
    private readonly telemetry: Telemetry = new Telemetry(undefined),
    /** The local address to connect from, so the peer sees which member this is; any when undefined. */
    private readonly localAddress?: string,
  ) {
    ({ host: this.#host, port: this.#port } = splitHostPort(address));
  }

  /** Sends one request; resolves its reply, or rejects with ERR_PEER_UNAVAILABLE, ERR_TIMEOUT or the peer's error. */
  request(request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    if (!this.telemetry.active) return this.#request(request, timeoutMs);
    return this.telemetry.peerRequest(this.address, MESSAGE_NAMES[request.type], () =>
      this.#request(request, timeoutMs),
    );
  }

  #request(request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    if (this.#writer !== undefined) return this.#send(this.#writer, request, timeoutMs);
    return this.#connection().then((writer) => this.#send(writer, request, timeoutMs));
  }

  #send(writer: BatchedWriter, request: PeerRequest, timeoutMs: number): Promise<PeerMessage> {
    const requestId = this.#pending.nextId();
    if (requestId === undefined) return Promise.reject(this.#unavailable(`${MAX_PENDING} requests already waiting`));
    try {
      writer.write(request, requestId);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<PeerMessage>((resolve, reject) => {
      this.#pending.add({ requestId, resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs });
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    });
  }

  /** Connects and completes the handshake (or reuses the connection); rejects with ERR_PEER_UNAVAILABLE when refused. */
  async verify(): Promise<void> {
    await this.#connection();
  }

  /** Closes the connection; pending requests fail. */
  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#fail(this.#unavailable('client closed'));
  }

  #connection(): Promise<BatchedWriter> {
    if (this.#closed) return Promise.reject(this.#unavailable('client closed'));
    this.#ready ??= this.#connect().catch((error: unknown) => {
      this.#ready = undefined;
      throw error instanceof DistCacheError ? error : this.#unavailable((error as Error).message);
    });
    return this.#ready;
  }

  #connect(): Promise<BatchedWriter> {
    return new Promise((resolve, reject) => {
      const options = { host: this.#host, port: this.#port, localAddress: this.localAddress };
      // Plain TCP reads into one reused buffer (the decoder copies what it keeps): a 'data'
      // event costs an ArrayBuffer per read, and V8 sweeps every young one at each scavenge.
      // TLS sockets take no `onread`.
      const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
      const onread = {
        buffer: readBuffer,
        callback: (bytes: number): boolean => {
          onData(readBuffer.subarray(0, bytes)); // defined below; reads start after connecting
          return true;
        },
      };
      const socket = this.tlsOptions
        ? tls.connect({ ...options, ...this.tlsOptions, checkServerIdentity: () => undefined })
        : net.connect({ ...options, onread });
      socket.setNoDelay(true);
      const decoder = new PeerMessageDecoder();
      const challenge = this.proof.nonce();
      let handshaking = true;
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), CONNECT_TIMEOUT_MS);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        if (this.#socket === socket) {
          this.#socket = undefined;
          this.#writer = undefined;
          this.#ready = undefined;
        }
        if (handshaking) reject(this.#unavailable(error.message));
        this.#fail(this.#unavailable(error.message));
      };
      socket.once(this.tlsOptions ? 'secureConnect' : 'connect', () => {
        socket.write(
          encodePeerMessage({
            type: MessageType.HELLO,
            requestId: 0,
            version: PEER_PROTOCOL_VERSION,
            nonce: challenge,
          }),
        );
      });
      socket.on('error', (error) => fail(error));
      socket.on('close', () => fail(new Error('connection closed')));
      const onData = (chunk: Buffer): void => {
        let messages: PeerMessage[];
        try {
          messages = decoder.push(chunk);
        } catch (error) {
          socket.destroy(error as Error);
          return;
        }
        for (const message of messages) {
          if (handshaking) {
            if (
              message.type !== MessageType.HELLO_REPLY ||
              message.version !== PEER_PROTOCOL_VERSION ||
              !this.proof.verify(challenge, message.proof)
            ) {
              socket.destroy(new Error('peer refused the handshake or has another cluster key'));
              return;
            }
            socket.write(
              encodePeerMessage({ type: MessageType.AUTH, requestId: 0, proof: this.proof.prove(message.nonce) }),
            );
            handshaking = false;
            clearTimeout(timer);
            this.#socket = socket;
            this.#writer = new BatchedWriter(socket);
            resolve(this.#writer);
            continue;
          }
          const pending = this.#pending.take(message.requestId);
          if (pending === undefined) continue; // answered after its timeout
          if (message.type === MessageType.ERROR)
            pending.reject(new PeerReplyError(message.code as Code, `peer ${this.address}: ${message.message}`));
          else pending.resolve(message);
        }
      };
      if (this.tlsOptions) socket.on('data', onData);
    });
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
