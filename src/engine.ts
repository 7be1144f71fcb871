import { throwIfAborted } from './abort.js';
import { resolveEngineConfig, resolveKeyspaceConfig, type EngineConfig, type EngineOptions, type KeyspaceConfig, type KeyspaceOptions } from './config.js';
import { DistCacheError, ErrorCode } from './errors.js';
import { Keyspace, type GetResult, type KeyspaceStats, type PutEntry } from './keyspace/keyspace.js';

/** Options every engine call accepts. */
export interface CallOptions {
  /** Aborts this caller's wait with ERR_ABORTED; work shared with other callers goes on for them. */
  signal?: AbortSignal;
}

type EngineState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * A read-through cache engine. Define keyspaces, `start()`, then `get` keys:
 * a miss is loaded once from the keyspace's data source, however many
 * callers ask at the same time, stored with its TTL, and returned.
 *
 * ```ts
 * const engine = new Engine({ keyspaces: [{ name: 'users', maxBytes: 64 << 20, dataSource }] });
 * await engine.start();
 * const user = await engine.get('users', '42');
 * await engine.stop();
 * ```
 */
export class Engine {
  readonly #config: EngineConfig;
  /** Keyspace definitions, kept across stop/start; updateKeySpace and deleteKeySpace change them. */
  readonly #definitions = new Map<string, KeyspaceConfig>();
  /** Keyspace runtimes, present while running. */
  readonly #keyspaces = new Map<string, Keyspace>();
  #state: EngineState = 'idle';
  #transition: Promise<void> | undefined;

  /** Validates `options` (ERR_INVALID_CONFIG names the bad field and value); nothing starts until {@link start}. */
  constructor(options: EngineOptions) {
    this.#config = resolveEngineConfig(options);
    for (const keyspace of this.#config.keyspaces) this.#definitions.set(keyspace.name, keyspace);
  }

  /** Starts the node: discovery, then the keyspaces. Resolves once it serves calls. Idempotent. */
  async start(): Promise<void> {
    if (this.#state === 'running') return;
    if (this.#state === 'starting') return this.#transition;
    if (this.#state === 'stopping') await this.#transition;
    this.#state = 'starting';
    this.#transition = this.#start();
    return this.#transition;
  }

  /**
   * Stops the node gracefully: new calls are refused with
   * ERR_ENGINE_NOT_STARTED, loads in progress get up to `shutdownTimeout` to
   * finish for their callers, then every timer and connection is released.
   * Idempotent; the engine can be started again (with empty caches).
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#transition!.catch(() => undefined);
    if (this.#state === 'stopping') return this.#transition;
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#transition = this.#stop();
    return this.#transition;
  }

  /**
   * Reads `key` from `keyspace`, loading it from the data source on a miss.
   * Resolves `undefined` when the data source says the key does not exist.
   */
  async get<V = Uint8Array>(keyspace: string, key: string, options?: CallOptions): Promise<GetResult<V> | undefined> {
    throwIfAborted(options?.signal);
    return this.#keyspace(keyspace).get(key, options?.signal) as GetResult<V> | undefined | Promise<GetResult<V> | undefined>;
  }

  /** Reads several keys; the results are in the order of `keys`. Rejects with the first error. */
  async getMany<V = Uint8Array>(keyspace: string, keys: readonly string[], options?: CallOptions): Promise<(GetResult<V> | undefined)[]> {
    throwIfAborted(options?.signal);
    const runtime = this.#keyspace(keyspace);
    requireArray(keys, 'keys');
    return Promise.all(keys.map((key) => runtime.get(key, options?.signal))) as Promise<(GetResult<V> | undefined)[]>;
  }

  /** Writes one entry to `keyspace`; `ttl` (ms) or `expiresAt` override the keyspace's expiry. */
  async put<V = Uint8Array>(keyspace: string, entry: PutEntry<V>, options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    this.#keyspace(keyspace).put(entry);
  }

  /** Writes several entries; all are validated before any is written. */
  async putMany<V = Uint8Array>(keyspace: string, entries: readonly PutEntry<V>[], options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    const runtime = this.#keyspace(keyspace);
    requireArray(entries, 'entries');
    const prepared = entries.map((entry) => runtime.preparePut(entry));
    for (const write of prepared) runtime.commitPut(write);
  }

  /** Removes `key` from `keyspace`; resolves true when it was cached. */
  async delete(keyspace: string, key: string, options?: CallOptions): Promise<boolean> {
    throwIfAborted(options?.signal);
    return this.#keyspace(keyspace).delete(key);
  }

  /** Removes several keys; resolves how many were cached. */
  async deleteMany(keyspace: string, keys: readonly string[], options?: CallOptions): Promise<number> {
    throwIfAborted(options?.signal);
    const runtime = this.#keyspace(keyspace);
    requireArray(keys, 'keys');
    let deleted = 0;
    for (const key of keys) if (runtime.delete(key)) deleted++;
    return deleted;
  }

  /** Removes a keyspace, its definition and all its entries. Later calls on it fail with ERR_KEYSPACE_NOT_FOUND. */
  async deleteKeySpace(name: string, options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    const runtime = this.#keyspace(name);
    this.#keyspaces.delete(name);
    this.#definitions.delete(name);
    await runtime.close();
  }

  /** Removes several keyspaces; fails before removing any if one is unknown. */
  async deleteKeySpaces(names: readonly string[], options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    requireArray(names, 'names');
    for (const name of names) this.#keyspace(name);
    for (const name of names) await this.deleteKeySpace(name);
  }

  /**
   * Replaces a keyspace's definition (data source, limits, TTLs), or adds it
   * when no keyspace has that name. The keyspace starts over empty: entries
   * cached under the old definition are dropped, and loads still running
   * under it finish for their callers without being stored.
   */
  async updateKeySpace<V = Uint8Array>(definition: KeyspaceOptions<V>, options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    this.#requireRunning();
    const config = resolveKeyspaceConfig(definition, this.#config.keyspaceDefaults);
    const previous = this.#keyspaces.get(config.name);
    this.#definitions.set(config.name, config);
    this.#keyspaces.set(config.name, new Keyspace(config, this.#config.logger));
    await previous?.close();
    this.#config.logger.info({ keyspace: config.name, replaced: previous !== undefined }, 'keyspace updated');
  }

  /** Names of the keyspaces this node serves. */
  keySpaces(): string[] {
    this.#requireRunning();
    return [...this.#keyspaces.keys()];
  }

  /** Counters and sizes of one keyspace. */
  stats(keyspace: string): KeyspaceStats {
    return this.#keyspace(keyspace).stats();
  }

  async #start(): Promise<void> {
    try {
      await this.#config.discovery.start();
      for (const config of this.#definitions.values()) this.#keyspaces.set(config.name, new Keyspace(config, this.#config.logger));
      this.#state = 'running';
      this.#config.logger.info({ keyspaces: [...this.#keyspaces.keys()], discovery: this.#config.discovery.name }, 'distcache engine started');
    } catch (error) {
      this.#state = 'idle';
      throw error;
    }
  }

  async #stop(): Promise<void> {
    const runtimes = [...this.#keyspaces.values()];
    await settleWithin(
      runtimes.flatMap((runtime) => runtime.running()),
      this.#config.shutdownTimeout,
    );
    this.#keyspaces.clear();
    await Promise.all(runtimes.map((runtime) => runtime.close()));
    await this.#config.discovery.stop();
    this.#state = 'stopped';
    this.#config.logger.info({}, 'distcache engine stopped');
  }

  #requireRunning(): void {
    if (this.#state === 'running') return;
    const why = this.#state === 'idle' || this.#state === 'starting' ? 'await engine.start() first' : 'the engine was stopped';
    throw new DistCacheError(ErrorCode.ENGINE_NOT_STARTED, `engine is not running: ${why}`);
  }

  #keyspace(name: string): Keyspace {
    const runtime = this.#keyspaces.get(name);
    if (runtime !== undefined && this.#state === 'running') return runtime;
    this.#requireRunning();
    throw new DistCacheError(
      ErrorCode.KEYSPACE_NOT_FOUND,
      `keyspace ${JSON.stringify(String(name))} is not defined; defined: ${[...this.#keyspaces.keys()].join(', ') || 'none'}`,
    );
  }
}

function requireArray(value: unknown, what: string): void {
  if (!Array.isArray(value)) throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `${what} must be an array`);
}

/** Waits until every promise settled, or `ms` elapsed, whichever comes first. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([Promise.allSettled(promises), elapsed]);
  clearTimeout(timer);
}
