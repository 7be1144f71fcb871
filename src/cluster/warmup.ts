import type { Keyspace } from '../keyspace/keyspace.js';
import type { Logger } from '../logger.js';

/** Loads a warmup runs at once, so a topology change never floods a data source. */
const WARMUP_CONCURRENCY = 8;

/**
 * After a topology change, loads the keys this node now owns and does not
 * hold: each keyspace's `warmKeys` and the keys it read often from other
 * nodes (its hot keys). Failures are logged; warmup never fails a caller.
 */
export async function warmUp(
  keyspaces: readonly Keyspace[],
  hotKeys: (keyspace: string) => string[],
  isPrimary: (keyspace: string, key: string) => boolean,
  logger: Logger,
): Promise<number> {
  const work: [Keyspace, string][] = [];
  for (const runtime of keyspaces) {
    if (runtime.config.dataSource === undefined) continue;
    const name = runtime.config.name;
    for (const key of new Set([...runtime.config.warmKeys, ...hotKeys(name)])) {
      if (isPrimary(name, key) && !runtime.has(key)) work.push([runtime, key]);
    }
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < work.length) {
      const [runtime, key] = work[next++]!;
      try {
        await runtime.read(key, undefined);
      } catch (error) {
        logger.debug({ keyspace: runtime.config.name, key, err: (error as Error).message }, 'warmup load failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WARMUP_CONCURRENCY, work.length) }, worker));
  return work.length;
}
