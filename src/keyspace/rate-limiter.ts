import Bottleneck from 'bottleneck';
import { DistCacheError, ErrorCode } from '../errors.js';

/** Resolved rate limit of one keyspace's data source. */
export interface RateLimitSettings {
  /** Sustained data-source calls per second. */
  readonly requestsPerSecond: number;
  /** Calls allowed at once after a quiet period (the bucket size). */
  readonly burst: number;
  /** Longest time in ms a load waits for a slot before failing with ERR_DATASOURCE_RATE_LIMITED. */
  readonly waitTimeout: number;
}

/** Shortest refill period in ms: bottleneck refills on a heartbeat timer, so very short periods only burn CPU. */
const MIN_REFILL_INTERVAL_MS = 25;

/** Time bottleneck itself may take to start a job that has its token (it hops through timers). */
const SCHEDULING_SLACK_MS = 25;

/**
 * A token bucket in front of a data source, built on bottleneck's reservoir:
 * `burst` tokens, refilled at `requestsPerSecond`. A call that cannot get a
 * token within `waitTimeout` is rejected without running.
 */
export class RateLimiter {
  readonly #limiter: Bottleneck;
  readonly #settings: RateLimitSettings;
  /** waitTimeout plus one refill period and scheduling slack: the backstop for a call's wait. */
  readonly #maxWaitMs: number;

  constructor(settings: RateLimitSettings) {
    this.#settings = settings;
    const refillAmount = Math.max(1, Math.round((settings.requestsPerSecond * MIN_REFILL_INTERVAL_MS) / 1000));
    const refillInterval = Math.round((refillAmount * 1000) / settings.requestsPerSecond);
    this.#limiter = new Bottleneck({
      reservoir: settings.burst,
      reservoirIncreaseAmount: refillAmount,
      reservoirIncreaseInterval: refillInterval,
      reservoirIncreaseMaximum: settings.burst,
      heartbeatInterval: refillInterval,
      // A queue longer than the tokens that arrive within waitTimeout can
      // only time out: refuse those calls at once instead of parking them.
      highWater: Math.floor((settings.requestsPerSecond * settings.waitTimeout) / 1000),
      strategy: Bottleneck.strategy.OVERFLOW,
    });
    this.#maxWaitMs = settings.waitTimeout + refillInterval + SCHEDULING_SLACK_MS;
  }

  /**
   * Runs `fn` once a token is free. A call that could not get a token within
   * `waitTimeout` (the queue ahead of it drains too slowly) is refused at
   * once with ERR_DATASOURCE_RATE_LIMITED; a timer stands behind that
   * estimate, so no call ever waits much longer than `waitTimeout`.
   */
  schedule<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let waiting = true;
      const timer = setTimeout(() => {
        waiting = false;
        reject(this.#limitedError());
      }, this.#maxWaitMs);
      const start = (): Promise<void> => {
        if (!waiting) return Promise.resolve();
        waiting = false;
        clearTimeout(timer);
        return fn().then(resolve, reject);
      };
      this.#limiter.schedule(start).catch((error: unknown) => {
        if (!waiting) return;
        waiting = false;
        clearTimeout(timer);
        reject(error instanceof Bottleneck.BottleneckError ? this.#limitedError() : error);
      });
    });
  }

  /** Calls waiting for a token. */
  get queued(): number {
    return this.#limiter.queued();
  }

  /** Drops waiting calls and stops the refill timer. */
  async stop(): Promise<void> {
    await this.#limiter.stop({ dropWaitingJobs: true }).catch(() => undefined);
    await this.#limiter.disconnect();
  }

  #limitedError(): DistCacheError {
    const { requestsPerSecond, waitTimeout } = this.#settings;
    return new DistCacheError(
      ErrorCode.DATASOURCE_RATE_LIMITED,
      `data source rate limit of ${requestsPerSecond}/s reached: no slot within waitTimeout ${waitTimeout} ms`,
    );
  }
}
