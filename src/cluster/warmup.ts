import type { Keyspace } from '../keyspace/keyspace.js';
import type { Logger } from '../logger.js';

/** Loads a warmup runs at once, so a topology change never floods a data source. */
const WARMUP_CONCURRENCY = 8;

/**
 * After a topology change, loads the keys this node now owns and does not
 * hold: each keyspace's `warmKeys` and every key it read from other nodes
 * recently enough to be still in its hot cache (its hot keys), however
 * often it read it. Failures are logged; warmup never fails a caller.
 */
export async function warmUp(
  keyspaces: readonly Keyspace[],
  hotKeys: (keyspaceName: string) => string[],
  isPrimary: (keyspaceName: string, key: string) => boolean,
  logger: Logger,
): Promise<number> {
  const work: [Keyspace, string][] = [];
  for (const keyspace of keyspaces) {
    if (keyspace.config.dataSource === undefined) continue;
    const name = keyspace.name;
    for (const key of new Set([...keyspace.config.warmKeys, ...hotKeys(name)])) {
      if (isPrimary(name, key) && !keyspace.has(key)) work.push([keyspace, key]);
    }
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < work.length) {
      const [keyspace, key] = work[next++]!;
      try {
        await keyspace.read(key, undefined);
      } catch (error) {
        logger.debug({ keyspace: keyspace.name, key, err: (error as Error).message }, 'warmup load failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WARMUP_CONCURRENCY, work.length) }, worker));
  return work.length;
}
