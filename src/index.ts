export { Engine, type CallOptions, type EngineEvents, type PeerEvent, type PutOptions } from './engine.js';
export {
  DEFAULTS,
  type CircuitBreakerOptions,
  type DataSource,
  type EngineOptions,
  type KeyspaceOptions,
  type RateLimitOptions,
  type SessionCacheOptions,
  type AdminOptions,
} from './config.js';
export { DistCacheError, ErrorCode, isDistCacheError } from './errors.js';
export type { DiscoveryContext, DiscoveryProvider } from './discovery.js';
export type { Logger, LogFn } from './logger.js';
export type { GetResult, KeyspaceStats, PutEntry } from './keyspace/keyspace.js';
export type { BreakerState } from './keyspace/circuit-breaker.js';
export { jsonCodec, msgpackCodec, type Codec } from './keyspace/codecs.js';
export { ENTRY_OVERHEAD_BYTES } from './lib/byte-bounded-lru.js';
export { MAX_KEY_BYTES } from './keyspace/entry-input.js';
