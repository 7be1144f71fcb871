/**
 * One cluster node in its own process, for the multi-process tests: an
 * Engine with StaticDiscovery and a counting data source (which fails the
 * keys that start with `fail:`), driven by the parent through IPC
 * (test/helpers/cluster.ts). Config: DISTCACHE_TEST_NODE.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { measureInFlight } from '../../bench/harness.js';
import { DnsDiscovery, type DnsDiscoveryOptions } from '../../discovery/dns.js';
import { NatsDiscovery, type NatsDiscoveryOptions } from '../../discovery/nats.js';
import { StaticDiscovery } from '../../discovery/static.js';
import type { DiscoveryProvider } from '../../src/discovery.js';
import { Engine, isDistCacheError, jsonCodec, type KeyspaceOptions, type Logger } from '../../src/index.js';
import { shareTlsSessions, type TlsSessionSharing } from '../../src/tls/index.js';
import { ChurnLoad } from './churn-load.js';
import { CountedUsers, type CountedUser } from './counted-users.js';
import { listenHttps } from './https-server.js';

export interface NodeConfig {
  ip: string;
  /** Static discovery's peers, unless `discovery` names another provider. */
  peers: string[];
  discovery?: { dns: DnsDiscoveryOptions } | { nats: NatsDiscoveryOptions };
  replicaCount?: number;
  replicaReads?: boolean;
  /** The `ks` keyspace's replication, and the session keyspace's (then defined here, as the listener would). */
  replication?: 'sync' | 'async';
  /** The engine's writeTimeout in ms. */
  writeTimeout?: number;
  /** The engine's shutdownTimeout in ms. */
  shutdownTimeout?: number;
  minimumPeersQuorum?: number;
  bootstrapTimeout?: number;
  clusterKey?: string;
  /** Paths of PEM files. */
  tls?: { key: string; cert: string; ca?: string };
  /** Data-source latency in ms. */
  delayMs?: number;
  /** Value size in bytes (default: the `v:<key>` text). */
  valueBytes?: number;
  hotCache?: boolean;
  membership?: { probeInterval?: number; probeTimeout?: number; suspicionMultiplier?: number; indirectChecks?: number };
  warmKeys?: string[];
  /** Session listener addresses (the distcache protocol). */
  sessionListen?: string[];
  /** The session keyspace's capacity in bytes (default: the engine's). */
  sessionMaxBytes?: number;
  /** Runs the admin server on `ip:9464`. */
  admin?: boolean;
  /** The network namespace the process runs in (test/helpers/netns.ts); default: the test's own. */
  netns?: string;
  /** Adds a keyspace `users` (JSON values, fetch and fetchMany) over a {@link CountedUsers} table in this Postgres. */
  database?: { url: string; table: string };
  /**
   * The port the peer server really listens on, while the node's id stays
   * `ip:3320`: a test puts a relay on `ip:3320` to see the bytes between nodes.
   */
  peerListenPort?: number;
  /** DISTCACHE_TEST_PEER_PROTOCOL for this node: the peer protocol versions it speaks, e.g. `1..1`. */
  peerProtocol?: string;
  /** An HTTPS server on `ip:port` (started by the `startHttps` command), answering its ip, wired to the engine by distcache/tls. */
  https?: { port: number; key: string; cert: string; rotationInterval?: number; deadline?: number };
}

export type Command =
  | { cmd: 'getMany'; keys: string[] }
  | { cmd: 'getManyUsers'; keys: string[] }
  | { cmd: 'put'; key: string; value: string }
  | { cmd: 'add'; key: string; value: string }
  | { cmd: 'puts'; keys: string[]; value: string; concurrency: number }
  | { cmd: 'delete'; key: string }
  | { cmd: 'stopEngine' }
  | { cmd: 'clear' }
  | { cmd: 'sockets' }
  | { cmd: 'peers' }
  | { cmd: 'calls' }
  | { cmd: 'load'; keys: string[]; durationMs: number; concurrency: number; markAt?: number }
  | { cmd: 'owned'; keys: string[]; by: string }
  | { cmd: 'bench'; keys: string[]; durationMs: number; inFlight: number }
  | { cmd: 'events' }
  | { cmd: 'owners'; keys: string[] }
  | { cmd: 'updateKeySpace'; maxBytes: number }
  | { cmd: 'digests' }
  | { cmd: 'loads' }
  | { cmd: 'churn'; hotKeys: string[]; writtenKeys: string[]; concurrency: number; putShare: number }
  | { cmd: 'churnStop' }
  | { cmd: 'stats' }
  | { cmd: 'memory' }
  | { cmd: 'logs' }
  | { cmd: 'startHttps' }
  | { cmd: 'tlsStats' }
  | { cmd: 'stop' };

const config = JSON.parse(process.env.DISTCACHE_TEST_NODE!) as NodeConfig;
if (config.peerProtocol !== undefined) process.env.DISTCACHE_TEST_PEER_PROTOCOL = config.peerProtocol;
if (config.peerListenPort !== undefined) listenElsewhere({ host: config.ip, port: 3320 }, config.peerListenPort);

/** The last log lines, for tests that check what an operator would read. */
const logs: { level: string; message: string; fields: object }[] = [];
const keep =
  (level: string) =>
  (fields: object, message?: string): void => {
    logs.push({ level, message: message ?? '', fields });
    if (logs.length > 1_000) logs.shift();
  };
/** Everything from info up is also printed with DISTCACHE_TEST_VERBOSE=1 (to debug a test). */
const verbose = process.env.DISTCACHE_TEST_VERBOSE
  ? (level: string, fields: object, message?: string) =>
      console.error(
        `${new Date().toISOString().slice(17, 23)} ${config.ip} ${level} ${message}`,
        JSON.stringify(fields),
      )
  : () => {};
const quiet: Logger = {
  debug: keep('debug'),
  info: (fields, message) => (keep('info')(fields, message), verbose('info', fields, message)),
  warn: (fields, message) => (keep('warn')(fields, message), verbose('warn', fields, message)),
  error: (fields, message) => (keep('error')(fields, message), console.error(message, fields)),
};
let calls = 0;
/** Data-source calls per key. */
const loads = new Map<string, number>();
const text = new TextDecoder();
/** The test keyspace `ks`: its data source answers `v:<key>` and counts its calls. */
function testKeyspace(maxBytes = 64 * 1024 * 1024): KeyspaceOptions {
  return {
    name: 'ks',
    maxBytes,
    hotCache: config.hotCache,
    replicaReads: config.replicaReads,
    replication: config.replication,
    warmKeys: config.warmKeys,
    dataSource: {
      fetch: async (key) => {
        calls++;
        loads.set(key, (loads.get(key) ?? 0) + 1);
        if (key.startsWith('fail:')) throw new Error(`the data source fails ${key}`);
        if (config.delayMs) await new Promise((resolve) => setTimeout(resolve, config.delayMs));
        const value = new TextEncoder().encode(`v:${key}`);
        if (!config.valueBytes) return value;
        const padded = new Uint8Array(config.valueBytes);
        padded.set(value.subarray(0, config.valueBytes));
        return padded;
      },
    },
  };
}

const database = config.database && new pg.Pool({ connectionString: config.database.url, max: 4 });
const usersKeyspace: KeyspaceOptions<unknown>[] = database
  ? [
      {
        name: 'users',
        maxBytes: 16 * 1024 * 1024,
        codec: jsonCodec,
        dataSource: CountedUsers.existing(
          { query: async <Row>(sql: string, params?: unknown[]) => (await database.query(sql, params)).rows as Row[] },
          config.database!.table,
        ).dataSource({ batched: true }),
      },
    ]
  : [];
const engine = new Engine({
  logger: quiet,
  bindAddr: config.ip,
  discovery: discoveryOf(config),
  replicaCount: config.replicaCount,
  writeTimeout: config.writeTimeout,
  shutdownTimeout: config.shutdownTimeout,
  minimumPeersQuorum: config.minimumPeersQuorum,
  bootstrapTimeout: config.bootstrapTimeout,
  clusterKey: config.clusterKey,
  membership: config.membership,
  sessionCache: config.sessionListen && { listen: config.sessionListen, maxBytes: config.sessionMaxBytes },
  admin: config.admin ? { listen: `${config.ip}:9464` } : undefined,
  tls: config.tls && {
    key: readFileSync(config.tls.key),
    cert: readFileSync(config.tls.cert),
    ...(config.tls.ca ? { ca: readFileSync(config.tls.ca) } : {}),
  },
  keyspaces: [
    testKeyspace(),
    ...usersKeyspace,
    ...(config.https && !config.sessionListen ? [{ name: 'ssl-sessions', maxBytes: 8 << 20, replicaReads: true }] : []),
    ...(config.sessionListen && config.replication ? [sessionKeyspace(config.replication)] : []),
  ],
});

/** The session listener's keyspace as `sessionCache` creates it, with `replication` set. */
function sessionKeyspace(replication: 'sync' | 'async'): KeyspaceOptions {
  return {
    name: 'ssl-sessions',
    maxBytes: config.sessionMaxBytes ?? 2 * 1024 * 1024,
    circuitBreaker: false,
    rateLimit: false,
    replicaReads: true,
    replication,
  };
}

/**
 * Puts `value` under each of `keys`, `concurrency` at a time; resolves when
 * each resolved (ms after the start, in order of completion) and the errors.
 */
async function puts(keys: string[], value: string, concurrency: number) {
  const started = performance.now();
  const resolvedAt: number[] = [];
  const errors: string[] = [];
  const bytes = new TextEncoder().encode(value);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          await engine.put('ks', { key, value: bytes });
          resolvedAt.push(performance.now() - started);
        } catch (error) {
          errors.push(isDistCacheError(error) ? error.code : String(error));
        }
      }
    }),
  );
  return { resolvedAt, errors };
}

/** Makes a listen on `address` use `port` instead: the node keeps its id, a relay takes the address. */
function listenElsewhere(address: { host: string; port: number }, port: number): void {
  const listen = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const target = args[0] as net.ListenOptions | undefined;
    if (target?.host === address.host && target.port === address.port) args[0] = { ...target, port };
    return listen.apply(this, args);
  } as typeof net.Server.prototype.listen;
}

function discoveryOf({ discovery, peers }: NodeConfig): DiscoveryProvider {
  if (discovery && 'dns' in discovery) return new DnsDiscovery(discovery.dns);
  if (discovery && 'nats' in discovery) return new NatsDiscovery(discovery.nats);
  return new StaticDiscovery({ peers });
}

/** Membership events as the application sees them. */
const events: { event: string; peer: string; state: string }[] = [];
for (const event of ['peerJoined', 'peerLeft', 'peerUpdated'] as const) {
  engine.on(event, ({ peer }) => events.push({ event, peer: peer.id, state: peer.state }));
}

/**
 * Gets `keys` in `concurrency` loops for `durationMs`; counts failures by
 * code and when they happened. Each loop yields to the event loop every few
 * gets, as an application serving requests does: hot-cache hits resolve
 * without I/O, and a loop of nothing but them would starve the node's timers.
 */
async function load(keys: string[], durationMs: number, concurrency: number, markAt = Infinity) {
  const started = Date.now();
  const errors: { at: number; code: string }[] = [];
  let ok = 0;
  let wrong = 0;
  let firstOkAfterMark: number | undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; Date.now() - started < durationMs; i += concurrency) {
        if (i % 16 === worker % 16) await new Promise((resolve) => setImmediate(resolve));
        const key = keys[i % keys.length]!;
        const sentAt = Date.now();
        try {
          const result = await engine.get('ks', key);
          if (result === undefined) wrong++;
          else ok++;
          if (firstOkAfterMark === undefined && sentAt > markAt) firstOkAfterMark = Date.now();
        } catch (error) {
          errors.push({ at: Date.now(), code: isDistCacheError(error) ? error.code : String(error) });
        }
      }
    }),
  );
  return { ok, wrong, errors, firstOkAfterMark };
}

let churn: ChurnLoad | undefined;

let tlsSharing: TlsSessionSharing | undefined;

/** The HTTPS server of the `https` option, wired to the engine. */
async function startHttps(options: NonNullable<NodeConfig['https']>): Promise<void> {
  const server = await listenHttps(config.ip, options.port, options, config.ip);
  tlsSharing = await shareTlsSessions(server, {
    engine,
    logger: quiet,
    deadline: options.deadline,
    ticketKeys: { rotationInterval: options.rotationInterval },
  });
}

async function run(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'getMany': {
      const results = await Promise.allSettled(command.keys.map((key) => engine.get('ks', key)));
      return results.map((result) =>
        result.status === 'fulfilled'
          ? result.value
            ? text.decode(result.value.value)
            : null
          : `error:${result.reason?.code}`,
      );
    }
    case 'getManyUsers':
      return (await engine.getMany<CountedUser>('users', command.keys)).map((result) => result?.value.name ?? null);
    case 'put':
      await engine.put('ks', { key: command.key, value: new TextEncoder().encode(command.value) });
      return true;
    case 'add':
      return engine.put('ks', { key: command.key, value: new TextEncoder().encode(command.value) }, { ifAbsent: true });
    case 'puts':
      return puts(command.keys, command.value, command.concurrency);
    case 'delete':
      return engine.delete('ks', command.key);
    case 'peers':
      return engine.peers().map(({ id, state, admitted }) => ({ id, state, admitted }));
    case 'calls':
      return calls;
    case 'load':
      return load(command.keys, command.durationMs, command.concurrency, command.markAt);
    case 'owned':
      return command.keys.filter((key) => engine.owners('ks', key)[0] === command.by);
    case 'bench':
      return measureInFlight((key) => engine.get('ks', key), command.keys, command.durationMs, command.inFlight);
    case 'events':
      return events;
    case 'owners':
      return command.keys.map((key) => engine.owners('ks', key));
    case 'updateKeySpace':
      await engine.updateKeySpace(testKeyspace(command.maxBytes));
      return true;
    case 'digests':
      return engine.peers().map(({ id, digest, digestMismatch }) => ({ id, digest, digestMismatch }));
    case 'loads':
      return Object.fromEntries(loads);
    case 'churn':
      churn = new ChurnLoad(engine, command.hotKeys, command.writtenKeys, command.concurrency, command.putShare);
      return true;
    case 'churnStop':
      return churn?.stop();
    case 'stats':
      return engine.stats('ks');
    case 'memory':
      return process.memoryUsage();
    case 'logs':
      return logs;
    case 'startHttps':
      await startHttps(config.https!);
      return true;
    case 'tlsStats':
      return tlsSharing?.stats();
    case 'clear':
      await engine.clearKeySpace('ks');
      return true;
    case 'stopEngine':
      await engine.stop();
      return true;
    case 'sockets':
      return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
    case 'stop':
      await engine.stop();
      await database?.end();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (message: Command & { id: number }) => {
  run(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) =>
      process.send!({
        id: message.id,
        error: { code: (error as { code?: string }).code, message: String((error as Error).message) },
      }),
  );
});

// Stops gracefully on SIGTERM, as `distcache serve` does: a rolling restart sends it.
process.once('SIGTERM', () => {
  void engine.stop().finally(() => process.exit(0));
});

engine.start().then(
  () => process.send!({ ready: true }),
  (error: unknown) => {
    process.send!({
      startError: { code: (error as { code?: string }).code, message: String((error as Error).message) },
    });
    setImmediate(() => process.exit(1));
  },
);
