import type net from 'node:net';
import { isDistCacheError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { BatchedWriter } from './batched-writer.js';
import { OutputBackpressure, type OutputLimits } from './output-backpressure.js';
import { MAX_PEER_FRAME_BYTES, MessageType, PeerMessageDecoder, type PeerMessage } from './peer-codec.js';
import { GOING_AWAY_SINCE, HANDSHAKE_FRAME_BYTES, type ServerHandshake } from './peer-handshake.js';

/** What a connection needs from its server. */
export interface ConnectionServer {
  readonly logger: Logger;
  readonly outputLimits: OutputLimits;
  /** Answers one request, synchronously when it can. `remoteHost`: the requester's IP. */
  serve(message: PeerMessage, remoteHost: string): PeerMessage | Promise<PeerMessage>;
  /** A request answered asynchronously started or settled (the server drains them on close). */
  asyncStarted(): void;
  asyncSettled(): void;
}

/** Requests one connection may have answered asynchronously at once; past it the connection stops reading. */
const MAX_ASYNC_PER_CONNECTION = 1024;
/** Time a connection has to complete the handshake once its channel is up. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

const NO_MESSAGES: PeerMessage[] = [];

/**
 * One accepted peer connection: the handshake, then pipelined requests,
 * answered as they complete. It stops reading while it holds too much
 * unsent output or too many requests in progress, and is closed when its
 * peer leaves it backed up past the stall timeout.
 */
export class PeerServerConnection {
  readonly #socket: net.Socket;
  readonly #server: ConnectionServer;
  readonly #writer: BatchedWriter;
  readonly #decoder = new PeerMessageDecoder();
  readonly #handshake: ServerHandshake;
  readonly #output: OutputBackpressure;
  readonly #handshakeTimer: NodeJS.Timeout;
  /** The peer's IP, which names the member that reads here (see CopyHolders). */
  readonly #remoteHost: string;
  /** The version the handshake chose; 0 until then, -1 once it refused the peer. */
  #version = 0;
  /** Messages read and not yet handled: the rest of a chunk read while the connection backed up. */
  #queue = NO_MESSAGES;
  #next = 0;
  #async = 0;
  #paused = false;

  constructor(socket: net.Socket, server: ConnectionServer, handshake: ServerHandshake) {
    this.#socket = socket;
    this.#server = server;
    this.#handshake = handshake;
    // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    this.#remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.#writer = new BatchedWriter(socket);
    this.#decoder.maxFrameBytes = HANDSHAKE_FRAME_BYTES;
    this.#output = new OutputBackpressure(socket, this.#writer, server.outputLimits, {
      onStalled: () => this.#close('it left its replies unread past the stall timeout'),
      onRelieved: () => this.#work(),
    });
    this.#handshakeTimer = setTimeout(() => this.#close('no handshake in time'), HANDSHAKE_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(this.#handshakeTimer));
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
  }

  /** Tells the peer this node is stopping (protocol 2 and later): it sends no new requests here. */
  goingAway(): void {
    if (this.#version < GOING_AWAY_SINCE) return;
    this.#writer.write({ type: MessageType.GOING_AWAY, requestId: 0 });
    this.#writer.flush();
  }

  /** Sends what is batched, then closes. */
  close(): void {
    this.#writer.flush();
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    if (this.#version < 0) return;
    let messages: PeerMessage[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      this.#close((error as Error).message);
      return;
    }
    if (this.#next === this.#queue.length) {
      this.#queue = messages;
      this.#next = 0;
    } else {
      this.#queue.push(...messages);
    }
    this.#work();
  }

  /** Handles queued messages until none is left or the connection backs up. */
  #work(): void {
    while (this.#next < this.#queue.length) {
      if (this.#version === 0) {
        if (!this.#shakeHands(this.#queue[this.#next++]!)) return;
        continue;
      }
      if (this.#backedUp()) {
        this.#pause();
        return;
      }
      this.#answer(this.#queue[this.#next++]!);
    }
    this.#queue = NO_MESSAGES;
    this.#next = 0;
    if (this.#paused && !this.#backedUp()) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** Whether the connection must stop taking requests: too many in progress, or too much unsent. */
  #backedUp(): boolean {
    return this.#async >= MAX_ASYNC_PER_CONNECTION || this.#output.backedUp();
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  /** Handles the first message; false when the connection is refused. */
  #shakeHands(message: PeerMessage): boolean {
    const { reply, verdict } = this.#handshake.receive(message);
    this.#writer.write(reply);
    if (!verdict.accepted) {
      this.#version = -1;
      this.#writer.flush();
      this.#server.logger.warn({ remote: this.#socket.remoteAddress, why: verdict.reason }, 'peer connection refused');
      this.#queue = NO_MESSAGES;
      this.#next = 0;
      this.#socket.end(); // the ERROR goes out first; the handshake timer destroys a peer that keeps it half open
      return false;
    }
    clearTimeout(this.#handshakeTimer);
    this.#version = verdict.version;
    this.#decoder.maxFrameBytes = MAX_PEER_FRAME_BYTES;
    this.#server.logger.debug({ remote: this.#socket.remoteAddress, version: verdict.version }, 'peer connected');
    return true;
  }

  #answer(message: PeerMessage): void {
    const reply = this.#server.serve(message, this.#remoteHost);
    if (!(reply instanceof Promise)) {
      writeReply(this.#writer, reply);
      return;
    }
    this.#async++;
    this.#server.asyncStarted();
    void reply
      .then((answer) => {
        writeReply(this.#writer, answer);
        this.#async--;
        if (this.#paused) this.#work();
      })
      .finally(() => this.#server.asyncSettled());
  }

  #close(why: string): void {
    if (this.#socket.destroyed) return;
    this.#server.logger.warn({ remote: this.#socket.remoteAddress, why }, 'peer connection closed');
    this.#socket.destroy();
  }
}

/** The ERROR reply that carries `error`'s code to the requester. */
export function errorReply(requestId: number, error: unknown): PeerMessage {
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
