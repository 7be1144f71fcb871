import type { Socket } from 'node:net';
import { MAX_UNSENT_BYTES } from '../net/output-gate.js';

/**
 * The answers an HTTP connection has not taken yet. Node's HTTP server
 * queues the answers to pipelined requests behind the one being sent and
 * stops reading while they pile up, so they never show in the socket's own
 * `writableLength`: this counts their bytes from the moment they are
 * answered until they are handed to the socket. A connection that keeps
 * more than {@link MAX_UNSENT_BYTES} waiting for `deadlineMs` is closed: its
 * client sends requests and does not read the answers.
 */
export class AnswerBacklog {
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly deadlineMs: number,
  ) {
    socket.once('close', () => clearTimeout(this.#timer));
  }

  /** Counts an answer of `bytes` until it is sent (`finished`). */
  track(bytes: number, finished: (done: () => void) => void): void {
    this.#bytes += bytes;
    if (this.#bytes > MAX_UNSENT_BYTES && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.socket.destroy(), this.deadlineMs);
      this.#timer.unref();
    }
    finished(() => {
      this.#bytes -= bytes;
      if (this.#bytes > MAX_UNSENT_BYTES) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    });
  }
}
