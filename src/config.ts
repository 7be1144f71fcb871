import { z } from 'zod';
import { StandaloneDiscovery } from '../discovery/standalone.js';
import type { Hasher } from './cluster/hasher.js';
import { checkPeerSecurity } from './cluster/peer-channel.js';
import type { PeerTlsOptions } from './cluster/peer-server.js';
import type { ClusterConfig } from './cluster/settings.js';
import { DEFAULT_TIMING } from './cluster/swim/timing.js';
import type { DiscoveryProvider } from './discovery.js';
import { DistCacheError, ErrorCode } from './errors.js';
import type { Codec } from './keyspace/codecs.js';
import type { KeyspaceConfig } from './keyspace/settings.js';
import type { DataSource } from './keyspace/types.js';
import { defaultLogger, type Logger } from './logger.js';
import { splitHostPort } from './net/host-port.js';
import type {
  AdminOptions,
  CircuitBreakerOptions,
  EngineOptions,
  KeyspaceOptions,
  RateLimitOptions,
  SessionCacheOptions,
} from './options.js';
import { parseSessionAddress } from './protocol/address.js';
import { MAX_TIMER_MS, parseOptions, timerMs } from './validate.js';

/** The session listener's options with every default applied. */
export interface SessionCacheConfig {
  readonly listen: readonly string[];
  readonly keyspace: string;
  readonly tls: PeerTlsOptions | undefined;
  readonly socket: { owner?: number; group?: number; mode?: number } | undefined;
  readonly idleTimeout: number;
  readonly maxConnections: number;
}

/** The engine's options with every default applied. */
export interface EngineConfig {
  readonly discovery: DiscoveryProvider;
  readonly keyspaces: readonly KeyspaceConfig[];
  readonly shutdownTimeout: number;
  readonly logger: Logger;
  readonly keyspaceDefaults: KeyspaceDefaults;
  readonly cluster: ClusterConfig;
  readonly sessionCache: SessionCacheConfig | undefined;
  readonly admin: AdminConfig | undefined;
}

/** The admin server's options with defaults applied. */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly tls: { key: string | Buffer; cert: string | Buffer } | undefined;
}

/** Engine-level values a keyspace inherits when it sets none. */
interface KeyspaceDefaults {
  readonly defaultTtl: number;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly circuitBreaker: CircuitBreakerOptions | undefined;
  readonly rateLimit: RateLimitOptions | undefined;
  readonly replicaCount: number;
}

/** Defaults, from Go DistCache where it has one. */
export const DEFAULTS = {
  readTimeout: 5_000,
  writeTimeout: 5_000,
  shutdownTimeout: 30_000,
  bindAddr: '0.0.0.0',
  bindPort: 3320,
  discoveryPort: 3322,
  replicaCount: 1,
  minimumPeersQuorum: 1,
  bootstrapTimeout: 30_000,
  joinRetryInterval: 1_000,
  maxJoinAttempts: 10,
  probeInterval: DEFAULT_TIMING.probeInterval,
  probeTimeout: DEFAULT_TIMING.probeTimeout,
  suspicionMultiplier: DEFAULT_TIMING.suspicionMultiplier,
  indirectChecks: DEFAULT_TIMING.indirectChecks,
  sessionKeyspace: 'ssl-sessions',
  /** About dc_server's default of 512 sessions of typical size (≈ 3 KiB with id and overhead). */
  sessionMaxBytes: 2 * 1024 * 1024,
  adminListen: '127.0.0.1:9464',
  sessionIdleTimeout: 60_000,
  sessionMaxConnections: 20_000,
  defaultTtl: 0,
  failureThreshold: 5,
  resetTimeout: 10_000,
  rateLimitWaitTimeout: 250,
  staleIfError: 0,
  negativeTtl: 0,
  maxBatch: 100,
  refreshAhead: 0,
  staleWhileRevalidate: 0,
  ttlJitter: 0,
  warmKeys: [],
  hotCache: true,
  replicaReads: false,
  replication: 'sync',
} as const;

/** A timeout in ms: at most setTimeout's ceiling, above which it would fire at once. */
const timeout = timerMs;
const duration = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const isFunction = (value: unknown): boolean => typeof value === 'function';
/** A fraction in [0, 1): of a TTL, for refreshAhead and ttlJitter. */
const fraction = z.number().min(0).lt(1);
/** Most keys one fetchMany call may be given. */
const MAX_BATCH = 10_000;
/** An option that no longer exists: setting it fails with what to use instead. */
const replacedBy = (option: string) =>
  z
    .never({ error: `was replaced by ${option} when membership moved to SWIM (one probe per probeInterval)` })
    .optional();

const circuitBreakerSchema = z.strictObject({
  failureThreshold: z.number().int().min(1).optional(),
  resetTimeout: timeout.optional(),
});

const rateLimitSchema = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000),
  burst: z.number().int().min(1).optional(),
  waitTimeout: z.number().int().min(0).max(MAX_TIMER_MS).optional(),
});

const keyspaceSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
      'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ),
  maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  dataSource: z
    .custom<DataSource<unknown>>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        isFunction((value as DataSource<unknown>).fetch) &&
        ((value as DataSource<unknown>).fetchMany === undefined ||
          isFunction((value as DataSource<unknown>).fetchMany)),
      'must be an object with a fetch(key, { signal }) method, and optionally a fetchMany(keys, { signal }) method',
    )
    .optional(),
  expiresAt: z
    .custom<(key: string) => Date | number | undefined>(isFunction, 'must be a function (key) => Date | epoch ms')
    .optional(),
  defaultTtl: duration.optional(),
  readTimeout: timeout.optional(),
  rateLimit: z.union([rateLimitSchema, z.literal(false)]).optional(),
  circuitBreaker: z.union([circuitBreakerSchema, z.literal(false)]).optional(),
  codec: z
    .custom<Codec<unknown>>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        isFunction((value as Codec<unknown>).encode) &&
        isFunction((value as Codec<unknown>).decode),
      'must be an object with encode(value) and decode(bytes) methods',
    )
    .optional(),
  staleIfError: duration.optional(),
  negativeTtl: duration.optional(),
  maxBatch: z.number().int().min(1).max(MAX_BATCH).optional(),
  refreshAhead: fraction.optional(),
  staleWhileRevalidate: duration.optional(),
  ttlJitter: fraction.optional(),
  writeTimeout: timeout.optional(),
  warmKeys: z.array(z.string().min(1).max(8192)).max(10_000).optional(),
  hotCache: z.boolean().optional(),
  replicaCount: z.number().int().min(1).max(16).optional(),
  replicaReads: z.boolean().optional(),
  replication: z.enum(['sync', 'async'], { error: 'must be "sync" or "async"' }).optional(),
});

const port = z.number().int().min(0).max(65_535);
const pem = z.union([z.string().min(1), z.instanceof(Buffer)]);

const engineSchema = z.strictObject({
  discovery: z
    .custom<DiscoveryProvider>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['start', 'stop', 'addresses'].every((method) => isFunction((value as Record<string, unknown>)[method])),
      'must implement the DiscoveryProvider interface (start, stop, addresses)',
    )
    .optional(),
  keyspaces: z.array(z.unknown()),
  defaultTtl: duration.optional(),
  readTimeout: timeout.optional(),
  circuitBreaker: circuitBreakerSchema.optional(),
  rateLimit: rateLimitSchema.optional(),
  shutdownTimeout: timeout.optional(),
  writeTimeout: timeout.optional(),
  bindAddr: z.string().min(1).max(255).optional(),
  bindPort: port.optional(),
  discoveryPort: port.optional(),
  replicaCount: z.number().int().min(1).max(16).optional(),
  minimumPeersQuorum: z.number().int().min(1).max(1_000).optional(),
  bootstrapTimeout: timeout.optional(),
  joinRetryInterval: timeout.optional(),
  maxJoinAttempts: z.number().int().min(1).max(1_000_000).optional(),
  clusterKey: z.string().min(16, 'must be at least 16 characters').max(4096).optional(),
  tls: z.strictObject({ key: pem, cert: pem, ca: pem.optional() }).optional(),
  hasher: z
    .custom<Hasher>(
      (value) => typeof value === 'object' && value !== null && isFunction((value as Hasher).hash),
      'must be an object with a hash(input) => bigint method',
    )
    .optional(),
  membership: z
    .strictObject({
      probeInterval: timeout.optional(),
      probeTimeout: timeout.optional(),
      suspicionMultiplier: z.number().int().min(1).max(100).optional(),
      indirectChecks: z.number().int().min(0).max(16).optional(),
      // The heartbeat protocol's options, named so that an old configuration is told what replaced them.
      heartbeatInterval: replacedBy('probeInterval'),
      suspectAfter: replacedBy('suspicionMultiplier'),
    })
    .superRefine((membership, context) => {
      const interval = membership.probeInterval ?? DEFAULTS.probeInterval;
      const probeTimeout = membership.probeTimeout ?? DEFAULTS.probeTimeout;
      if (probeTimeout >= interval)
        context.addIssue({
          code: 'custom',
          message: `probeTimeout (${probeTimeout} ms) must be shorter than probeInterval (${interval} ms); half of it or less leaves time for the indirect probes`,
        });
    })
    .optional(),
  sessionCache: z
    .strictObject({
      listen: z.array(z.string().max(300)).min(1).max(64),
      keyspace: z.string().optional(),
      maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
      tls: z.strictObject({ key: pem, cert: pem, ca: pem.optional() }).optional(),
      socket: z
        .strictObject({
          owner: z.number().int().min(0).optional(),
          group: z.number().int().min(0).optional(),
          mode: z.number().int().min(0).max(0o7777).optional(),
        })
        .optional(),
      idleTimeout: timeout.optional(),
      maxConnections: z.number().int().min(1).max(1_000_000).optional(),
    })
    .optional(),
  admin: z
    .strictObject({
      listen: z.string().max(300).refine(isListenAddress, 'must be "host:port", e.g. "127.0.0.1:9464"').optional(),
      token: z.string().min(16, 'must be at least 16 characters').max(4096).optional(),
      tls: z.strictObject({ key: pem, cert: pem }).optional(),
    })
    .optional(),
  logger: z
    .custom<Logger>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['debug', 'info', 'warn', 'error'].every((level) => isFunction((value as Record<string, unknown>)[level])),
      'must be a pino-compatible logger with debug, info, warn and error methods',
    )
    .optional(),
});

/** Validates engine options and applies every default; throws ERR_INVALID_CONFIG naming the field and value. */
export function resolveEngineConfig(options: unknown): EngineConfig {
  const parsed = parseOptions(engineSchema, options, 'engine options');
  const keyspaceDefaults: KeyspaceDefaults = {
    defaultTtl: parsed.defaultTtl ?? DEFAULTS.defaultTtl,
    readTimeout: parsed.readTimeout ?? DEFAULTS.readTimeout,
    writeTimeout: parsed.writeTimeout ?? DEFAULTS.writeTimeout,
    circuitBreaker: parsed.circuitBreaker,
    rateLimit: parsed.rateLimit,
    replicaCount: parsed.replicaCount ?? DEFAULTS.replicaCount,
  };
  const keyspaces = parsed.keyspaces.map((options, index) =>
    resolveKeyspaceConfig(options, keyspaceDefaults, `keyspaces[${index}]`),
  );
  const sessionCache = parsed.sessionCache && resolveSessionCache(parsed.sessionCache, keyspaces, keyspaceDefaults);
  checkPeerSecurity(parsed.clusterKey, parsed.tls);
  const seen = new Set<string>();
  for (const { name } of keyspaces) {
    if (seen.has(name)) {
      throw new DistCacheError(ErrorCode.INVALID_CONFIG, `keyspaces: the name "${name}" is defined twice`);
    }
    seen.add(name);
  }
  return {
    discovery: parsed.discovery ?? new StandaloneDiscovery(),
    keyspaces,
    shutdownTimeout: parsed.shutdownTimeout ?? DEFAULTS.shutdownTimeout,
    logger: parsed.logger ?? defaultLogger(),
    keyspaceDefaults,
    sessionCache,
    admin: parsed.admin && resolveAdmin(parsed.admin),
    cluster: {
      bindAddr: parsed.bindAddr ?? DEFAULTS.bindAddr,
      bindPort: parsed.bindPort ?? DEFAULTS.bindPort,
      discoveryPort: parsed.discoveryPort ?? DEFAULTS.discoveryPort,
      minimumPeersQuorum: parsed.minimumPeersQuorum ?? DEFAULTS.minimumPeersQuorum,
      bootstrapTimeout: parsed.bootstrapTimeout ?? DEFAULTS.bootstrapTimeout,
      joinRetryInterval: parsed.joinRetryInterval ?? DEFAULTS.joinRetryInterval,
      maxJoinAttempts: parsed.maxJoinAttempts ?? DEFAULTS.maxJoinAttempts,
      clusterKey: parsed.clusterKey,
      tls: parsed.tls,
      hasher: parsed.hasher,
      membership: {
        probeInterval: parsed.membership?.probeInterval ?? DEFAULTS.probeInterval,
        probeTimeout: parsed.membership?.probeTimeout ?? DEFAULTS.probeTimeout,
        suspicionMultiplier: parsed.membership?.suspicionMultiplier ?? DEFAULTS.suspicionMultiplier,
        indirectChecks: parsed.membership?.indirectChecks ?? DEFAULTS.indirectChecks,
      },
    },
  };
}

/**
 * Applies the session listener's defaults, checks its addresses, and adds its
 * keyspace (no data source: a miss is a miss) unless the application defines it.
 */
function resolveSessionCache(
  options: NonNullable<z.infer<typeof engineSchema>['sessionCache']>,
  keyspaces: KeyspaceConfig[],
  defaults: KeyspaceDefaults,
): SessionCacheConfig {
  for (const address of options.listen) parseSessionAddress(address);
  const name = options.keyspace ?? DEFAULTS.sessionKeyspace;
  const defined = keyspaces.find((candidate) => candidate.name === name);
  if (defined?.dataSource !== undefined) {
    throw new DistCacheError(
      ErrorCode.INVALID_CONFIG,
      `sessionCache.keyspace: "${name}" has a data source; sessions live only in the cache`,
    );
  }
  if (defined === undefined) {
    keyspaces.push(
      resolveKeyspaceConfig(
        {
          name,
          maxBytes: options.maxBytes ?? DEFAULTS.sessionMaxBytes,
          circuitBreaker: false,
          rateLimit: false,
          replicaReads: true,
        },
        defaults,
        'sessionCache.keyspace',
      ),
    );
  }
  return {
    listen: options.listen,
    keyspace: name,
    tls: options.tls,
    socket: options.socket,
    idleTimeout: options.idleTimeout ?? DEFAULTS.sessionIdleTimeout,
    maxConnections: options.maxConnections ?? DEFAULTS.sessionMaxConnections,
  };
}

/** Validates one keyspace's options and layers them over the engine's defaults. */
export function resolveKeyspaceConfig(
  options: unknown,
  defaults: KeyspaceDefaults,
  where = 'keyspace',
): KeyspaceConfig {
  const named =
    typeof (options as { name?: unknown } | null)?.name === 'string'
      ? ` ("${(options as { name: string }).name}")`
      : '';
  const parsed = parseOptions(keyspaceSchema, options, `${where}${named}`);
  const circuitBreaker =
    parsed.circuitBreaker === false ? undefined : (parsed.circuitBreaker ?? defaults.circuitBreaker);
  const rateLimit = parsed.rateLimit === false ? undefined : (parsed.rateLimit ?? defaults.rateLimit);
  return {
    name: parsed.name,
    maxBytes: parsed.maxBytes,
    dataSource: parsed.dataSource,
    expiresAt: parsed.expiresAt,
    defaultTtl: parsed.defaultTtl ?? defaults.defaultTtl,
    readTimeout: parsed.readTimeout ?? defaults.readTimeout,
    rateLimit: rateLimit && {
      requestsPerSecond: rateLimit.requestsPerSecond,
      burst: rateLimit.burst ?? Math.ceil(rateLimit.requestsPerSecond),
      waitTimeout: rateLimit.waitTimeout ?? DEFAULTS.rateLimitWaitTimeout,
    },
    circuitBreaker: circuitBreaker && {
      failureThreshold: circuitBreaker.failureThreshold ?? DEFAULTS.failureThreshold,
      resetTimeout: circuitBreaker.resetTimeout ?? DEFAULTS.resetTimeout,
    },
    codec: parsed.codec,
    staleIfError: parsed.staleIfError ?? DEFAULTS.staleIfError,
    negativeTtl: parsed.negativeTtl ?? DEFAULTS.negativeTtl,
    maxBatch: parsed.maxBatch ?? DEFAULTS.maxBatch,
    refreshAhead: parsed.refreshAhead ?? DEFAULTS.refreshAhead,
    staleWhileRevalidate: parsed.staleWhileRevalidate ?? DEFAULTS.staleWhileRevalidate,
    ttlJitter: parsed.ttlJitter ?? DEFAULTS.ttlJitter,
    writeTimeout: parsed.writeTimeout ?? defaults.writeTimeout,
    warmKeys: parsed.warmKeys ?? DEFAULTS.warmKeys,
    hotCache: parsed.hotCache ?? DEFAULTS.hotCache,
    replicaCount: parsed.replicaCount ?? defaults.replicaCount,
    replicaReads: parsed.replicaReads ?? DEFAULTS.replicaReads,
    replication: parsed.replication ?? DEFAULTS.replication,
  };
}

function resolveAdmin(options: NonNullable<z.infer<typeof engineSchema>['admin']>): AdminConfig {
  const { host, port } = splitHostPort(options.listen ?? DEFAULTS.adminListen);
  return { host, port, token: options.token, tls: options.tls };
}

/** `host:port` with a port in 0..65535 (0: any free port); IPv6 hosts in brackets. */
function isListenAddress(value: string): boolean {
  const { host, port } = splitHostPort(value);
  return host.length > 0 && port >= 0 && port <= 65_535 && !/\s/.test(host);
}

/*
 * Compile-time checks that the schemas above accept exactly the options that
 * options.ts documents, with compatible types, and that the resolved keyspace
 * settings have a field for every keyspace option: `npm run typecheck` fails,
 * naming the fields, when one side gains a field the other lacks.
 */

/** `true` when A and B have the same keys, else the keys only one of them has. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never]
  ? true
  : { onlyInOne: Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A> };
/** `true` when a value of either type is a value of the other. */
type SameValues<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? true
    : { schema: A; documented: B }
  : { schema: A; documented: B };
/** A schema's input and its documented interface describe the same options. */
type Agree<Schema, Documented> =
  SameKeys<Schema, Documented> extends true ? SameValues<Schema, Documented> : SameKeys<Schema, Documented>;
type Holds<Check extends true> = Check;
type EngineInput = z.input<typeof engineSchema>;

/** Not API: exported so the compiler checks it (see above). */
export type OptionsAgree = [
  Holds<Agree<z.input<typeof keyspaceSchema>, KeyspaceOptions<unknown>>>,
  Holds<Agree<z.input<typeof circuitBreakerSchema>, CircuitBreakerOptions>>,
  Holds<Agree<z.input<typeof rateLimitSchema>, RateLimitOptions>>,
  // keyspaces are validated one by one with keyspaceSchema, checked above
  Holds<SameKeys<EngineInput, EngineOptions>>,
  Holds<Agree<Omit<EngineInput, 'keyspaces'>, Omit<EngineOptions, 'keyspaces'>>>,
  Holds<Agree<NonNullable<EngineInput['membership']>, NonNullable<EngineOptions['membership']>>>,
  Holds<Agree<NonNullable<EngineInput['tls']>, NonNullable<EngineOptions['tls']>>>,
  Holds<Agree<NonNullable<EngineInput['sessionCache']>, SessionCacheOptions>>,
  Holds<
    Agree<NonNullable<NonNullable<EngineInput['sessionCache']>['socket']>, NonNullable<SessionCacheOptions['socket']>>
  >,
  Holds<Agree<NonNullable<EngineInput['admin']>, AdminOptions>>,
  Holds<SameKeys<KeyspaceConfig, KeyspaceOptions>>,
];
