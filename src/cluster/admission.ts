import type { Logger } from '../logger.js';

/** What admission needs from the cluster. */
export interface AdmissionContext {
  /** Completes the peer-port handshake with a member (cluster key, TLS); rejects when it fails. Its value is unused. */
  handshake(id: string): Promise<unknown>;
  /** Whether the member is still present (alive or suspect): one that is gone is neither admitted nor retried. */
  isPresent(id: string): boolean;
  /** Called once a member is admitted, so placement can take it in. */
  onAdmitted(id: string): void;
  /** Time in ms before a failed handshake is tried again. */
  readonly retryInterval: number;
  readonly logger: Logger;
}

/**
 * Admits members to placement once their peer port accepts our handshake: a
 * node without the cluster key or certificate never owns keys. A refused
 * handshake is tried again while the member stays present (it may just have
 * been slow), and reported as a warning once, then at debug level.
 */
export class Admission {
  readonly #context: AdmissionContext;
  /** Members whose peer port completed the handshake. */
  readonly #admitted = new Set<string>();
  /** Members already reported as refused, so a retry loop logs once. */
  readonly #refused = new Set<string>();
  readonly #retries = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(context: AdmissionContext) {
    this.#context = context;
  }

  /** Whether `id` passed the handshake. */
  has(id: string): boolean {
    return this.#admitted.has(id);
  }

  /** A member is present: starts its handshake unless it is admitted already. */
  consider(id: string): void {
    if (!this.#admitted.has(id)) void this.#verify(id);
  }

  /** A member is gone (dead or left): it passes the handshake again before it comes back. */
  forget(id: string): void {
    this.#admitted.delete(id);
  }

  /** Cancels the retries; handshakes still running admit no one. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
  }

  async #verify(id: string): Promise<void> {
    const { handshake, isPresent, logger } = this.#context;
    try {
      await handshake(id);
      if (this.#stopped || !isPresent(id)) return;
      this.#refused.delete(id);
      this.#admitted.add(id);
      this.#context.onAdmitted(id);
    } catch (error) {
      const level = this.#refused.has(id) ? 'debug' : 'warn';
      this.#refused.add(id);
      logger[level](
        { member: id, err: (error as Error).message },
        'member refused: its peer port failed the handshake; retrying',
      );
      this.#retry(id);
    }
  }

  #retry(id: string): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (this.#context.isPresent(id) && !this.#admitted.has(id)) void this.#verify(id);
    }, this.#context.retryInterval);
    this.#retries.add(timer);
  }
}
