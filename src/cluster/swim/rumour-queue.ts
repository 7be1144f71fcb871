import type { Rumour } from './messages.js';

const NONE: readonly Rumour[] = Object.freeze([]);

interface Queued {
  readonly rumour: Rumour;
  transmits: number;
}

/**
 * Rumours waiting to be piggybacked, at most one per member (a newer rumour
 * about a member replaces the older one), each sent a limited number of times
 * and the least-sent first, as memberlist's TransmitLimitedQueue. Bounded by
 * the number of members.
 */
export class RumourQueue {
  readonly #queued = new Map<string, Queued>();

  /** Queues `rumour`, replacing any rumour about the same member. */
  add(rumour: Rumour): void {
    this.#queued.set(rumour.id, { rumour, transmits: 0 });
  }

  get size(): number {
    return this.#queued.size;
  }

  /**
   * Up to `max` rumours for one message, least-sent first; each counts as one
   * transmission and leaves the queue after `limit` of them.
   */
  take(max: number, limit: number): readonly Rumour[] {
    if (this.#queued.size === 0) return NONE;
    let chosen = [...this.#queued.values()];
    if (chosen.length > max) chosen = chosen.sort((a, b) => a.transmits - b.transmits).slice(0, max);
    const rumours: Rumour[] = [];
    for (const queued of chosen) {
      rumours.push(queued.rumour);
      if (++queued.transmits >= limit) this.#queued.delete(queued.rumour.id);
    }
    return rumours;
  }
}
