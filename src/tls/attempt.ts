import { DistCacheError, ErrorCode } from '../errors.js';

/** How a bounded attempt ended: its value, or why there is none. */
export type Attempt<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Runs `work` with a signal that fires after `ms` or when `cancel` fires, and
 * resolves how it ended; never rejects, and never waits longer than `ms`.
 * Work that answers late is ignored: a TLS handshake must not wait on a
 * cache that is slow.
 */
export function attemptWithin<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  cancel?: AbortSignal,
): Promise<Attempt<T>> {
  const controller = new AbortController();
  return new Promise((resolve) => {
    const end = (attempt: Attempt<T>) => {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
      resolve(attempt);
    };
    const onCancel = () => {
      controller.abort(cancel!.reason);
      end({ ok: false, error: cancel!.reason });
    };
    const timer = setTimeout(() => {
      const error = new DistCacheError(ErrorCode.TIMEOUT, `the cache did not answer within ${ms} ms`);
      controller.abort(error);
      end({ ok: false, error });
    }, ms);
    if (cancel?.aborted) return onCancel();
    cancel?.addEventListener('abort', onCancel, { once: true });
    let pending: Promise<T>;
    try {
      pending = work(controller.signal);
    } catch (error) {
      return end({ ok: false, error });
    }
    pending.then(
      (value) => end({ ok: true, value }),
      (error: unknown) => end({ ok: false, error }),
    );
  });
}

/** An error as one log field: its code and message, never its data. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
