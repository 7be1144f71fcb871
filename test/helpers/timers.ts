import { createHook } from 'node:async_hooks';

/**
 * Tracks the timers (setTimeout/setInterval, ref'd or unref'd) created from
 * now on, so a test can assert that everything created was also released.
 */
export function trackTimers(): { live(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { live: () => live.size, stop: () => hook.disable() };
}
