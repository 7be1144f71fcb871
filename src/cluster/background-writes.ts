/** Writes (`replication: 'async'`) whose copies may be on their way to other nodes at once; past it a write waits. */
export const MAX_BACKGROUND_WRITES = 4_096;
/** Bytes of values those writes may hold at once; past it a write waits (one write alone is always let through). */
export const MAX_BACKGROUND_BYTES = 64 * 1024 * 1024;

/** A write waiting for room, with what it will hold. */
interface Waiting {
  readonly bytes: number;
  readonly work: () => Promise<void>;
  readonly started: () => void;
}

/**
 * The work an async write leaves for after it resolves (its other copies,
 * its invalidations), bounded: at most {@link MAX_BACKGROUND_WRITES} writes
 * and {@link MAX_BACKGROUND_BYTES} of their values at once. A write over
 * either bound waits, in order of arrival, until earlier work settles:
 * callers slow down to the pace the other nodes answer at, and nothing is
 * dropped or held without bound. The work handles its own failures.
 */
export class BackgroundWrites {
  readonly #maxWrites: number;
  readonly #maxBytes: number;
  #writes = 0;
  #bytes = 0;
  readonly #waiting: Waiting[] = [];
  #idle: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(maxWrites = MAX_BACKGROUND_WRITES, maxBytes = MAX_BACKGROUND_BYTES) {
    this.#maxWrites = maxWrites;
    this.#maxBytes = maxBytes;
  }

  /**
   * Starts `work` (which holds `bytes` of values) once there is room;
   * undefined when it started at once, else resolves when it started.
   */
  start(bytes: number, work: () => Promise<void>): Promise<void> | undefined {
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#run(bytes, work);
      return undefined;
    }
    return new Promise((started) => this.#waiting.push({ bytes, work, started }));
  }

  /** Writes whose background work has not settled, and those waiting to start. */
  get pending(): { running: number; waiting: number } {
    return { running: this.#writes, waiting: this.#waiting.length };
  }

  /** Resolves once no work runs or waits (for a graceful stop). */
  idle(): Promise<void> {
    if (this.#writes === 0 && this.#waiting.length === 0) return Promise.resolve();
    if (this.#idle === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  #fits(bytes: number): boolean {
    return this.#writes === 0 || (this.#writes < this.#maxWrites && this.#bytes + bytes <= this.#maxBytes);
  }

  #run(bytes: number, work: () => Promise<void>): void {
    this.#writes++;
    this.#bytes += bytes;
    void work().finally(() => this.#settled(bytes));
  }

  #settled(bytes: number): void {
    this.#writes--;
    this.#bytes -= bytes;
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.bytes)) {
      const next = this.#waiting.shift()!;
      this.#run(next.bytes, next.work);
      next.started();
    }
    if (this.#writes === 0 && this.#waiting.length === 0 && this.#idle !== undefined) {
      this.#idle.resolve();
      this.#idle = undefined;
    }
  }
}
