/**
 * One suspicion's deadline (Lifeguard): it starts at `max` and moves towards
 * `min` as other members independently confirm it, `k` confirmations reaching
 * `min`. Pure: the owner compares {@link deadline} with its clock.
 */
export class Suspicion {
  #start: number;
  readonly #min: number;
  readonly #max: number;
  readonly #k: number;
  /** Members that reported it, the first one included, so a rumour coming back is not a confirmation. */
  readonly #confirmedBy = new Set<string>();
  #deadline: number;

  constructor(now: number, from: string, k: number, min: number, max: number) {
    this.#start = now;
    this.#min = min;
    this.#max = max;
    this.#k = k;
    this.#confirmedBy.add(from);
    this.#deadline = now + (k < 1 ? min : max);
  }

  /** When the member is declared dead unless it refutes first. */
  get deadline(): number {
    return this.#deadline;
  }

  /** Confirmations counted so far (the first suspicion excluded). */
  get confirmations(): number {
    return this.#confirmedBy.size - 1;
  }

  /** Counts `from`'s confirmation; returns false when it is not news (known, or enough already). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.#k || this.#confirmedBy.has(from)) return false;
    this.#confirmedBy.add(from);
    const fraction = Math.log(this.confirmations + 1) / Math.log(this.#k + 1);
    const timeout = Math.max(this.#min, Math.floor(this.#max - fraction * (this.#max - this.#min)));
    this.#deadline = this.#start + timeout;
    return true;
  }

  /** Moves the deadline later by `ms`: the owner was paused and could not have heard a refutation. */
  postpone(ms: number): void {
    this.#start += ms;
    this.#deadline += ms;
  }
}
