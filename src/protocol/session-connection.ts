import type net from 'node:net';
import type { Logger } from '../logger.js';
import { readIntoBuffer } from '../net/buffer-reads.js';
import { DcMessageDecoder, DcProtocolError, HEADER_BYTES, Status, type DcMessage } from './codec.js';
import type { ResponseBatch } from './response-batch.js';
import type { SessionOperations } from './session-operations.js';

const DISCONNECTED = Uint8Array.of(Status.DISCONNECTED);
const NO_REQUESTS: DcMessage[] = [];
/** Most bytes of requests a connection holds behind one that waits before it stops reading (as the output bound). */
const MAX_HELD_BYTES = 64 * 1024;

/** Whether a connection must stop answering until its unsent output drains (the listener's OutputGate). */
export interface OutputBound {
  hold(): boolean;
}

/**
 * One client connection of the session listener. A plain socket is read into
 * the listener's read buffer (see {@link readIntoBuffer}): requests are views
 * of it, and the ones still unanswered when a read has been handled are
 * copied. Requests are answered strictly in order. While the store answers at
 * once (a session in this node's memory, a standalone write), a request is
 * answered in the same turn, with no promise, and the answers to one chunk of
 * requests go out in one write. A request that has to wait (another node, a
 * cluster write) holds back every request after it; the connection is read on
 * until those held requests pass {@link MAX_HELD_BYTES}. (A client that sends
 * one request at a time never stops the reading, which on a socket reading
 * into our buffer costs two system calls to stop and restart.) Requests wait
 * too, and the connection is read no further, while its unsent answers exceed
 * the output bound; call {@link resume} once they drained. (A batch is written
 * once it reaches 16 KiB, so the bound is overshot by less than that and one
 * answer.)
 */
export class SessionConnection {
  readonly #socket: net.Socket;
  readonly #operations: SessionOperations;
  readonly #logger: Logger;
  readonly #batch: ResponseBatch;
  readonly #output: OutputBound;
  readonly #decoder = new DcMessageDecoder({ views: true });
  /** Requests read, answered up to #next. */
  #requests = NO_REQUESTS;
  #next = 0;
  /** A request's answer is on its way: the ones after it wait. */
  #waiting = false;
  /** A request dc_server would not answer was read: nothing more is read or answered. */
  #closing = false;
  #failures = 0;
  #activity = 0;

  constructor(
    socket: net.Socket,
    operations: SessionOperations,
    logger: Logger,
    batch: ResponseBatch,
    output: OutputBound,
    readBuffer: Buffer,
  ) {
    this.#socket = socket;
    this.#operations = operations;
    this.#logger = logger;
    this.#batch = batch;
    this.#output = output;
    if (!readIntoBuffer(socket, readBuffer, this.#readShared)) socket.on('data', this.#read);
  }

  /**
   * Moves on every read, every answer that waited and every drain of the
   * output: the listener closes a connection where it stands still (see IdleSweep).
   */
  get activity(): number {
    return this.#activity;
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Answers the requests held back by the output bound, once the client read what was over it. */
  resume(): void {
    this.#activity++; // a client reading a long run of answers is not idle, though it sends nothing
    if (!this.#waiting) this.#drain();
  }

  /** A read into the shared buffer: the requests left waiting get data of their own before the next read reuses it. */
  readonly #readShared = (chunk: Buffer): void => {
    this.#read(chunk);
    const requests = this.#requests;
    for (let i = this.#next; i < requests.length; i++) {
      const request = requests[i]!;
      if (request.data.buffer === chunk.buffer) requests[i] = { ...request, data: request.data.slice() };
    }
  };

  readonly #read = (chunk: Buffer): void => {
    this.#activity++;
    let messages: DcMessage[];
    try {
      messages = this.#decoder.push(chunk);
      for (const message of messages)
        if (message.isResponse) throw new DcProtocolError('corrupt', 'a client sent a response');
    } catch (error) {
      const fault = error instanceof DcProtocolError ? error.fault : 'corrupt';
      this.#logger.warn(
        { remote: this.#socket.remoteAddress, fault, err: (error as Error).message },
        'closing a session connection',
      );
      this.#socket.destroy();
      return;
    }
    if (messages.length === 0 || this.#closing) return;
    if (this.#next === this.#requests.length) {
      this.#requests = messages;
      this.#next = 0;
    } else {
      for (const message of messages) this.#requests.push(message);
    }
    if (this.#waiting) this.#readOnOrStop();
    else this.#drain();
  };

  /** Answers requests in order while they are answered at once; writes the answers; then reads on or stops. */
  #drain(): void {
    const socket = this.#socket;
    while (this.#next < this.#requests.length && !socket.destroyed && !this.#output.hold()) {
      const request = this.#requests[this.#next++]!;
      let answer: Uint8Array | Promise<Uint8Array> | undefined;
      try {
        answer = this.#operations.answer(request);
      } catch (error) {
        answer = this.#failed(error);
        if (answer === undefined) return;
      }
      if (answer instanceof Promise) {
        this.#wait(request, answer);
        break;
      }
      this.#batch.add(socket, request.requestUid, request.operation, answer);
    }
    this.#batch.flushTo(socket);
    if (this.#next === this.#requests.length) {
      this.#requests = NO_REQUESTS;
      this.#next = 0;
    }
    this.#readOnOrStop();
  }

  /** Reads on while the client reads its answers and the requests held behind one that waits stay few; else stops. */
  #readOnOrStop(): void {
    const socket = this.#socket;
    if (this.#output.hold() || this.#heldBytes() > MAX_HELD_BYTES) socket.pause();
    else if (socket.isPaused()) socket.resume();
  }

  /** Bytes of the requests read and not answered yet, frame headers counted. */
  #heldBytes(): number {
    let bytes = 0;
    for (let i = this.#next; i < this.#requests.length; i++) bytes += HEADER_BYTES + this.#requests[i]!.data.byteLength;
    return bytes;
  }

  #wait(request: DcMessage, answer: Promise<Uint8Array>): void {
    this.#waiting = true;
    answer.then(
      (data) => this.#answered(request, data),
      (error: unknown) => this.#answered(request, this.#failed(error)),
    );
  }

  #answered(request: DcMessage, data: Uint8Array | undefined): void {
    this.#activity++;
    this.#waiting = false;
    if (data === undefined || this.#socket.destroyed) return;
    this.#batch.add(this.#socket, request.requestUid, request.operation, data);
    this.#drain();
  }

  /**
   * The answer to a request that failed: DISCONNECTED when the cache could
   * not serve it (no node reachable, a timeout), as a proxy whose server is
   * down answers, and the connection keeps serving. Undefined for a request
   * dc_server cannot parse (an ADD shorter than its header): like dc_server,
   * the connection is closed once the answers before it are sent.
   */
  #failed(error: unknown): Uint8Array | undefined {
    if (error instanceof DcProtocolError) {
      this.#logger.warn(
        { remote: this.#socket.remoteAddress, fault: error.fault, err: error.message },
        'closing a session connection',
      );
      this.#closing = true;
      this.#requests = NO_REQUESTS;
      this.#next = 0;
      this.#batch.flushTo(this.#socket);
      this.#socket.end(() => this.#socket.destroy());
      return undefined;
    }
    const level = this.#failures++ === 0 ? 'warn' : 'debug';
    this.#logger[level]({ err: (error as Error).message }, 'session request failed; answered DISCONNECTED');
    return DISCONNECTED;
  }
}
