import type { Socket } from 'node:net';

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
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const queue = this.#queue;
    const bytes = this.#bytes;
    this.#queue = [];
    this.#bytes = 0;
    this.#scheduled = false;
    if (this.#socket.destroyed) return;
    this.#socket.write(queue.length === 1 ? queue[0]! : Buffer.concat(queue, bytes));
  }
}
