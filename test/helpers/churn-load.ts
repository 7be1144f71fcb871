import { isDistCacheError, type Engine } from '../../src/index.js';

/** The report of a churn load (see {@link ChurnLoad}). */
export interface ChurnReport {
  gets: number;
  failedGets: { at: number; code: string; message: string }[];
  /** Gets of a written key that returned a value older than a put acknowledged before the get began. */
  staleReads: { key: string; got: string; acknowledged: number }[];
  puts: number;
  failedPuts: { at: number; code: string }[];
  /** Per written key, the sequence number of the last acknowledged put. */
  acknowledged: Record<string, number>;
}

const text = new TextDecoder();

/**
 * Continuous gets over the hot keys and puts (a `putShare` of operations)
 * over the written keys of the keyspace `ks`, in `concurrency` loops, until
 * stopped: the client of the rolling-restart test and bench. A put writes
 * `w:<seq>` with a sequence number per key, so a read can tell an older
 * value from a newer one.
 */
export class ChurnLoad {
  readonly report: ChurnReport = { gets: 0, failedGets: [], staleReads: [], puts: 0, failedPuts: [], acknowledged: {} };
  #stopped = false;
  readonly #done: Promise<unknown>;
  readonly #sequence = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    hotKeys: string[],
    writtenKeys: string[],
    concurrency: number,
    putShare: number,
  ) {
    this.#done = Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let i = worker; !this.#stopped; i += concurrency) {
          // Yield now and then, as an application serving requests does.
          if (i % 8 === worker % 8) await new Promise((resolve) => setImmediate(resolve));
          if (writtenKeys.length > 0 && (i * 7919) % 1000 < putShare * 1000)
            await this.#put(writtenKeys[i % writtenKeys.length]!);
          else
            await this.#get(
              i % 2 === 0 || writtenKeys.length === 0
                ? hotKeys[i % hotKeys.length]!
                : writtenKeys[i % writtenKeys.length]!,
            );
        }
      }),
    );
  }

  async stop(): Promise<ChurnReport> {
    this.#stopped = true;
    await this.#done;
    return this.report;
  }

  async #get(key: string): Promise<void> {
    const acknowledged = this.report.acknowledged[key] ?? -1;
    try {
      const result = await this.engine.get('ks', key);
      this.report.gets++;
      const got = result === undefined ? '' : text.decode(result.value);
      if (acknowledged >= 0 && sequenceOf(got) < acknowledged) this.report.staleReads.push({ key, got, acknowledged });
    } catch (error) {
      this.report.failedGets.push({ at: Date.now(), code: codeOf(error), message: String((error as Error).message) });
    }
  }

  async #put(key: string): Promise<void> {
    const sequence = (this.#sequence.get(key) ?? 0) + 1;
    this.#sequence.set(key, sequence);
    try {
      await this.engine.put('ks', { key, value: new TextEncoder().encode(`w:${sequence}`) });
      this.report.puts++;
      this.report.acknowledged[key] = Math.max(this.report.acknowledged[key] ?? 0, sequence);
    } catch (error) {
      this.report.failedPuts.push({ at: Date.now(), code: codeOf(error) });
    }
  }
}

/** The sequence number of a churn put's value `w:<seq>`; -1 for anything else (a data-source value). */
export function sequenceOf(value: string | null): number {
  return value?.startsWith('w:') ? Number(value.slice(2)) : -1;
}

function codeOf(error: unknown): string {
  return isDistCacheError(error) ? error.code : String(error);
}
