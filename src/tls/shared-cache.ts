import type { Engine } from '../engine.js';

/** The engine calls distcache/tls makes: an {@link Engine}, or anything with the same get and put. */
export type TlsEngine = Pick<Engine, 'get' | 'put'>;

/**
 * Where the servers of a fleet keep what they share: byte ids of 1..64
 * bytes to bytes with a TTL, added only when absent (the distcache
 * protocol's model). A {@link SessionCacheClient} is one; {@link EngineSharedCache}
 * puts an engine keyspace behind it.
 */
export interface SharedCache {
  /** The bytes under `id`, or undefined. */
  get(id: Uint8Array, options: { signal: AbortSignal }): Promise<Uint8Array | undefined>;
  /** Stores `data` under `id` for `ttlMs` unless the id holds a value; resolves whether it stored. */
  add(id: Uint8Array, data: Uint8Array, ttlMs: number, options: { signal: AbortSignal }): Promise<boolean>;
}

/**
 * A keyspace of an in-process engine as a {@link SharedCache}. Ids become
 * hex keys, as the distcache protocol listener makes them, so servers wired
 * to the engine and servers wired to its listener share the same entries.
 */
export class EngineSharedCache implements SharedCache {
  constructor(
    private readonly engine: TlsEngine,
    private readonly keyspace: string,
  ) {}

  async get(id: Uint8Array, options: { signal: AbortSignal }): Promise<Uint8Array | undefined> {
    return (await this.engine.get(this.keyspace, keyOf(id), options))?.value;
  }

  add(id: Uint8Array, data: Uint8Array, ttlMs: number, options: { signal: AbortSignal }): Promise<boolean> {
    return this.engine.put(
      this.keyspace,
      { key: keyOf(id), value: data, ttl: ttlMs },
      { ifAbsent: true, signal: options.signal },
    );
  }
}

function keyOf(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}
