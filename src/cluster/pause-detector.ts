/** How often the event loop is looked at. */
export const PAUSE_CHECK_INTERVAL_MS = 250;

/**
 * Notices that this process was paused (SIGSTOP, a frozen VM, a debugger, a
 * very long GC): a timer that should fire every 250 ms fires much later.
 * A pause longer than `thresholdMs` (the time the other members take to
 * declare a silent node dead) is reported with its length, so the node can
 * stop trusting what it held before. Measured on the monotonic clock; the
 * timer does not keep the process alive.
 */
export class PauseDetector {
  readonly #timer: NodeJS.Timeout;
  #last = performance.now();

  constructor(thresholdMs: number, onPause: (pausedMs: number) => void) {
    this.#timer = setInterval(() => {
      const now = performance.now();
      const paused = now - this.#last - PAUSE_CHECK_INTERVAL_MS;
      this.#last = now;
      if (paused > thresholdMs) onPause(Math.round(paused));
    }, PAUSE_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
