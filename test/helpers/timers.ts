import { createHook } from 'node:async_hooks';

/**
 * Tracks the timers (setTimeout/setInterval, ref'd or unref'd), or the async
 * resources of the given `types` (e.g. TCPSERVERWRAP for listening sockets),
 * created from now on, so a test can assert that everything created was also
 * released.
 */
export function trackTimers(types: readonly string[] = ['Timeout']): { live(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (types.includes(type)) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { live: () => live.size, stop: () => hook.disable() };
}
