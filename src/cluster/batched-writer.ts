import type { Socket } from 'node:net';

/**
 * A burst is sent in parts of at most this many frames (or bytes), so the
 * other side starts working on the first part while this side prepares the
 * rest: one big batch would leave each side idle while the other works.
 */
const FLUSH_FRAMES = 8;
const FLUSH_BYTES = 64 * 1024;

/**
 * Coalesces the frames written to a socket during one turn of the microtask
 * queue into a single write. With many requests in flight, replies arrive in
 * bursts and their callers send the next requests in the same turn: one
 * syscall then carries them all instead of one each.
 */
export class BatchedWriter {
  readonly #socket: Socket;
  #queue: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Queues a frame; it is sent at the end of the current microtask turn. */
  write(frame: Buffer): void {
    this.#queue.push(frame);
    this.#bytes += frame.byteLength;
    if (this.#queue.length >= FLUSH_FRAMES || this.#bytes >= FLUSH_BYTES) {
      this.#flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    if (this.#queue.length === 0) {
      this.#scheduled = false;
      return;
    }
    const queue = this.#queue;
    const bytes = this.#bytes;
    this.#queue = [];
    this.#bytes = 0;
    this.#scheduled = false;
    if (this.#socket.destroyed) return;
    this.#socket.write(queue.length === 1 ? queue[0]! : Buffer.concat(queue, bytes));
  }
}
