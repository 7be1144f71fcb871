import type { Socket } from 'node:net';
import type { BatchedWriter } from './batched-writer.js';

/** Bounds of the output one peer connection may hold unsent. */
export interface OutputLimits {
  /** Unsent bytes (batched plus the socket's buffer) past which the connection is backed up. */
  readonly maxUnsentBytes: number;
  /** Time in ms a connection may stay backed up before it is closed. */
  readonly stallTimeoutMs: number;
}

/**
 * 4 MiB holds thousands of in-flight replies of ordinary size, far more
 * than a peer keeps in flight, and one value up to the 16 MiB frame limit
 * still goes out whole (the bound stops new work, it never cuts a frame).
 */
export const PEER_OUTPUT_LIMITS: OutputLimits = { maxUnsentBytes: 4 * 1024 * 1024, stallTimeoutMs: 30_000 };

/**
 * Watches the output a connection has not sent yet. Over the bound, the
 * connection is backed up and its owner stops adding to it (a server stops
 * reading requests, a client refuses new ones). When the socket drains,
 * `onRelieved` runs; a connection that stays backed up past the stall
 * timeout gets `onStalled` instead (its owner closes it).
 */
export class OutputBackpressure {
  readonly #writer: BatchedWriter;
  readonly #limits: OutputLimits;
  readonly #onStalled: () => void;
  readonly #onRelieved: () => void;
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    writer: BatchedWriter,
    limits: OutputLimits,
    handlers: { onStalled(): void; onRelieved(): void },
  ) {
    this.#writer = writer;
    this.#limits = limits;
    this.#onStalled = handlers.onStalled;
    this.#onRelieved = handlers.onRelieved;
    // Backed up means the socket holds more than its high-water mark, so the write that did it returned false and 'drain' follows.
    socket.on('drain', () => this.#drained());
    socket.once('close', () => this.#stopClock());
  }

  /** Whether the connection is backed up now; starts the stall clock when it is. */
  backedUp(): boolean {
    if (this.#writer.unsentBytes <= this.#limits.maxUnsentBytes) return false;
    this.#stallTimer ??= setTimeout(() => {
      this.#stallTimer = undefined;
      this.#onStalled();
    }, this.#limits.stallTimeoutMs);
    return true;
  }

  #drained(): void {
    if (this.#stallTimer === undefined || this.#writer.unsentBytes > this.#limits.maxUnsentBytes) return;
    this.#stopClock();
    this.#onRelieved();
  }

  #stopClock(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }
}
