/** One key waiting for its batch: where its answer goes. */
interface Waiting<T> {
  readonly key: string;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * A batch's answer for each of its keys, in their order: the value, or the
 * error that key alone failed with (marked by the batcher's `isFailure`).
 */
export type BatchAnswer<T, E> = readonly (T | E)[];

const resolved = Promise.resolve();

/**
 * Collects the keys asked for in the same tick and hands them to one call, in
 * batches of at most `maxBatch` keys (DataLoader's scheduling: a batch leaves
 * once the promise jobs queued with it have run, so keys asked by callers that
 * resumed from the same awaited promise join it too). A full batch leaves at
 * once. Callers collapse duplicate keys first (single-flight): a key is in one
 * batch at most.
 */
export class TickBatcher<T, E extends Error> {
  #queue: Waiting<T>[] = [];
  #scheduled = false;

  /**
   * @param maxBatch - most keys one call receives.
   * @param loadBatch - loads a batch; rejecting fails every key of it.
   * @param isFailure - tells an answer's per-key failure from a value.
   */
  constructor(
    private readonly maxBatch: number,
    private readonly loadBatch: (keys: string[]) => Promise<BatchAnswer<T, E>>,
    private readonly isFailure: (answer: T | E) => answer is E,
  ) {}

  /** Resolves `key`'s value once its batch is answered; rejects with its batch's error or its own. */
  load(key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ key, resolve, reject });
      if (this.#queue.length >= this.maxBatch) this.#dispatch();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        void resolved.then(() => process.nextTick(this.#onTick));
      }
    });
  }

  readonly #onTick = (): void => {
    this.#scheduled = false;
    if (this.#queue.length > 0) this.#dispatch();
  };

  #dispatch(): void {
    const batch = this.#queue;
    this.#queue = [];
    const keys = batch.map((waiting) => waiting.key);
    let loading: Promise<BatchAnswer<T, E>>;
    try {
      loading = this.loadBatch(keys);
    } catch (error) {
      loading = Promise.reject(error);
    }
    loading.then(
      (answers) => {
        for (let i = 0; i < batch.length; i++) {
          const answer = answers[i] as T | E;
          if (this.isFailure(answer)) batch[i]!.reject(answer);
          else batch[i]!.resolve(answer);
        }
      },
      (error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      },
    );
  }
}
