/** Something a sweep watches: a count that moves on activity, and how to close it. */
export interface Activity {
  readonly activity: number;
  close(): void;
}

/** Sweeps per idle period: a quiet connection is closed between 1 and 1 + 1/SWEEPS periods after its last activity. */
const SWEEPS = 4;

/**
 * Closes connections that were quiet for a whole idle period, with one timer
 * for all of them. A socket's own timeout (`socket.setTimeout`) re-arms a
 * timer on every read and every write, which costs a served request more than
 * the rest of its bookkeeping; here a connection only counts its activity, and
 * the sweep compares the counts SWEEPS times a period.
 */
export class IdleSweep {
  readonly #watched = new Map<Activity, { activity: number; quietSweeps: number }>();
  readonly #timer: NodeJS.Timeout;

  /** @param idleMs - quiet time after which a connection is closed (at most a quarter later). */
  constructor(idleMs: number) {
    this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.ceil(idleMs / SWEEPS)));
    this.#timer.unref();
  }

  watch(connection: Activity): void {
    // The next sweep may come at once: it is not a quiet period yet, so it does not count.
    this.#watched.set(connection, { activity: connection.activity, quietSweeps: -1 });
  }

  unwatch(connection: Activity): void {
    this.#watched.delete(connection);
  }

  /** Stops sweeping; watched connections stay open. */
  stop(): void {
    clearInterval(this.#timer);
    this.#watched.clear();
  }

  #sweep(): void {
    for (const [connection, seen] of this.#watched) {
      if (connection.activity !== seen.activity) {
        seen.activity = connection.activity;
        seen.quietSweeps = 0;
      } else if (++seen.quietSweeps >= SWEEPS) {
        this.#watched.delete(connection);
        connection.close();
      }
    }
  }
}
