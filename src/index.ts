export { Engine, type CallOptions, type EngineEvents, type PeerEvent, type PutOptions } from './engine.js';
export { DEFAULTS } from './config.js';
export type {
  CircuitBreakerOptions,
  EngineOptions,
  KeyspaceOptions,
  RateLimitOptions,
  SessionCacheOptions,
  AdminOptions,
} from './options.js';
export { DistCacheError, ErrorCode, isDistCacheError } from './errors.js';
export type { DiscoveryContext, DiscoveryProvider } from './discovery.js';
export type { Logger, LogFn } from './logger.js';
export type { BreakerState, DataSource, GetResult, KeyspaceStats, PutEntry } from './keyspace/types.js';
export { jsonCodec, msgpackCodec, type Codec } from './keyspace/codecs.js';
export { ENTRY_OVERHEAD_BYTES } from './lib/byte-bounded-lru.js';
export { MAX_KEY_BYTES } from './keyspace/entry-input.js';
