import { AWARENESS_MAX } from './timing.js';

/**
 * Lifeguard's local health multiplier: failed probes that no intermediary
 * nacked, refutations and pauses of this process raise it, acks lower it,
 * and probe timing is scaled by it, so a node that is itself slow waits
 * longer before it accuses others.
 */
export class Awareness {
  #score = 0;

  /** 0 when healthy, at most AWARENESS_MAX - 1. */
  get score(): number {
    return this.#score;
  }

  adjust(delta: number): void {
    this.#score = Math.min(AWARENESS_MAX - 1, Math.max(0, this.#score + delta));
  }

  /** `ms` scaled by score + 1. */
  scaled(ms: number): number {
    return ms * (this.#score + 1);
  }
}
