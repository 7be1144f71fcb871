/**
 * Runs a task one at a time. Asked again while it runs, it runs once more
 * afterwards, however many times it was asked: a burst of topology changes or
 * discovery updates makes two runs, not one each.
 */
export class CoalescedRun {
  #running: Promise<void> | undefined;
  #again = false;

  /**
   * @param task - the work; it handles its own failures.
   * @param stillWanted - checked before the extra run (false once the owner is stopping).
   */
  constructor(
    private readonly task: () => Promise<void>,
    private readonly stillWanted: () => boolean = () => true,
  ) {}

  /** Starts the task, or asks for one more run after the one in progress. */
  request(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.task().finally(() => {
      this.#running = undefined;
      if (!this.#again) return;
      this.#again = false;
      if (this.stillWanted()) this.request();
    });
  }

  /** The run in progress, if any. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }
}
