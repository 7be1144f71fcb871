import { Engine, type EngineOptions, type KeyspaceOptions, type Logger } from '../../src/index.js';

/** A logger that drops everything: tests assert behaviour, not log lines. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Bytes of a UTF-8 string. */
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Text of UTF-8 bytes. */
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** A data source that counts its calls and answers `value:<key>` after `delayMs`. */
export function countingSource(
  delayMs = 0,
  answer: (key: string) => Uint8Array | null | undefined = (key) => bytes(`value:${key}`),
) {
  const source = {
    calls: 0,
    keys: [] as string[],
    async fetch(key: string): Promise<Uint8Array | null | undefined> {
      source.calls++;
      source.keys.push(key);
      if (delayMs > 0) await sleep(delayMs);
      return answer(key);
    },
  };
  return source;
}

/** Starts an engine with one keyspace `ks` (plus engine options), silent logs. */
export async function startEngine<V = Uint8Array>(
  keyspace: Partial<KeyspaceOptions<V>>,
  engineOptions: Partial<EngineOptions> = {},
): Promise<Engine> {
  const engine = new Engine({
    logger: silentLogger,
    ...engineOptions,
    keyspaces: [{ name: 'ks', maxBytes: 1 << 20, ...keyspace } as KeyspaceOptions<V>],
  });
  await engine.start();
  return engine;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
