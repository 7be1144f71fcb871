import type { DiscoveryContext } from '../../src/discovery.js';

/** A discovery context that records what the provider logged and counts its "changed" calls. */
export function recordingContext(self = '127.0.0.1:3322') {
  const logged: { level: string; message: string }[] = [];
  const record = (level: string) => (_fields: object, message: string) => void logged.push({ level, message });
  const context = {
    self,
    logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    changes: 0,
    changed() {
      context.changes++;
    },
    logged,
  };
  return context satisfies DiscoveryContext;
}

/** Polls `check` every 50 ms until it holds, or throws after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
