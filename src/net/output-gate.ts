import type { Duplex } from 'node:stream';

/**
 * Most bytes of unsent output a served connection may hold. Past it the
 * server reads and answers nothing more on that connection until the output
 * drains, so a client that sends requests and never reads their answers
 * stalls itself (TCP backpressure reaches it) instead of growing the
 * server's memory. Two of the largest distcache messages (32 KiB) fit.
 */
export const MAX_UNSENT_BYTES = 64 * 1024;

/**
 * Backpressure for one served connection. The server asks {@link hold}
 * before each answer (or after each write): while the socket holds more
 * than {@link MAX_UNSENT_BYTES} of unsent output it answers true, and the
 * server stops reading and answering; `onDrain` runs once the output has
 * drained. A connection still over the bound after `deadlineMs` is
 * destroyed: a client that does not read is not waited for forever.
 *
 * The check costs one property read when the output is under the bound.
 */
export class OutputGate {
  readonly #socket: Duplex;
  readonly #deadlineMs: number;
  readonly #onDrain: () => void;
  #timer: NodeJS.Timeout | undefined;
  #waiting = false;

  constructor(socket: Duplex, deadlineMs: number, onDrain: () => void = () => undefined) {
    this.#socket = socket;
    this.#deadlineMs = deadlineMs;
    this.#onDrain = onDrain;
    socket.once('close', () => clearTimeout(this.#timer));
  }

  /** Whether the connection is waiting for its output to drain. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** True when the unsent output exceeds the bound: stop reading and answering until `onDrain`. */
  hold(): boolean {
    if (this.#waiting) return true;
    if (this.#socket.writableLength <= MAX_UNSENT_BYTES) return false;
    this.#waiting = true;
    this.#timer = setTimeout(this.#expire, this.#deadlineMs);
    this.#timer.unref();
    this.#socket.once('drain', this.#drained);
    return true;
  }

  readonly #drained = (): void => {
    clearTimeout(this.#timer);
    this.#waiting = false;
    if (!this.#socket.destroyed) this.#onDrain();
  };

  readonly #expire = (): void => {
    this.#socket.destroy();
  };
}

/** How long (ms) a relaying connection (the proxy's, the snooper's) may stay over the output bound before it is closed. */
export const STALLED_OUTPUT_TIMEOUT_MS = 60_000;
