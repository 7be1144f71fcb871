/** Versions one millisecond holds: a logical counter in the low 10 bits. */
const TICKS_PER_MS = 1024;
/** Versions from another node further ahead of this node's wall clock than this do not move the clock. */
const DEFAULT_MAX_DRIFT_MS = 60_000;

/**
 * A hybrid logical clock (Kulkarni et al., 2014) packed into one safe
 * integer: wall-clock ms × 1024 plus a logical counter, which carries into
 * the ms part when a millisecond has more than 1024 events (the clock then
 * runs slightly ahead of the wall clock, never backwards). Safe integers
 * hold it until the year 2248.
 *
 * {@link next} is greater than every version this clock issued or
 * {@link observe}d, so a node that has seen a version stamps only newer
 * ones; between nodes that exchanged nothing, versions follow their wall
 * clocks. A version claiming a time more than `maxDriftMs` ahead of this
 * node's wall clock is not followed: a peer with a clock far in the future
 * cannot drag every clock with it (its own versions still compare as they are).
 */
export class HybridLogicalClock {
  #last = 0;

  constructor(
    private readonly wallClock: () => number = Date.now,
    private readonly maxDriftMs = DEFAULT_MAX_DRIFT_MS,
  ) {}

  /** A new version, greater than `atLeast` and than every version issued or observed so far. */
  next(atLeast = 0): number {
    if (atLeast > this.#last) this.observe(atLeast);
    const physical = Math.floor(this.wallClock()) * TICKS_PER_MS;
    this.#last = physical > this.#last ? physical : this.#last + 1;
    return this.#last;
  }

  /** Advances the clock past a version seen from another node (within the drift bound). */
  observe(version: number): void {
    if (version <= this.#last) return;
    if (version > (this.wallClock() + this.maxDriftMs) * TICKS_PER_MS) return;
    this.#last = version;
  }

  /** The latest version issued or observed: every later {@link next} is greater. */
  get last(): number {
    return this.#last;
  }
}

/** The wall-clock ms a version was stamped at (for logs and tests). */
export function versionTime(version: number): number {
  return Math.floor(version / TICKS_PER_MS);
}

/** Whether `value` can be a version: a non-negative safe integer. */
export function isVersion(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
