/**
 * One cluster node in its own process, for the multi-process tests: an
 * Engine with StaticDiscovery and a counting data source (which fails the
 * keys that start with `fail:`), driven by the parent through IPC
 * (test/helpers/cluster.ts). Config: DISTCACHE_TEST_NODE.
 */
import { readFileSync } from 'node:fs';
import { measureInFlight } from '../../bench/harness.js';
import { DnsDiscovery, type DnsDiscoveryOptions } from '../../discovery/dns.js';
import { NatsDiscovery, type NatsDiscoveryOptions } from '../../discovery/nats.js';
import { StaticDiscovery } from '../../discovery/static.js';
import type { DiscoveryProvider } from '../../src/discovery.js';
import { Engine, isDistCacheError, type Logger } from '../../src/index.js';

export interface NodeConfig {
  ip: string;
  /** Static discovery's peers, unless `discovery` names another provider. */
  peers: string[];
  discovery?: { dns: DnsDiscoveryOptions } | { nats: NatsDiscoveryOptions };
  replicaCount?: number;
  replicaReads?: boolean;
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
  membership?: { heartbeatInterval?: number; suspectAfter?: number; probeTimeout?: number };
  warmKeys?: string[];
  /** Session listener addresses (the distcache protocol). */
  sessionListen?: string[];
  /** The session keyspace's capacity in bytes (default: the engine's). */
  sessionMaxBytes?: number;
  /** Runs the admin server on `ip:9464`. */
  admin?: boolean;
  /** The network namespace the process runs in (test/helpers/netns.ts); default: the test's own. */
  netns?: string;
}

export type Command =
  | { cmd: 'getMany'; keys: string[] }
  | { cmd: 'put'; key: string; value: string }
  | { cmd: 'delete'; key: string }
  | { cmd: 'peers' }
  | { cmd: 'calls' }
  | { cmd: 'load'; keys: string[]; durationMs: number; concurrency: number; markAt?: number }
  | { cmd: 'owned'; keys: string[]; by: string }
  | { cmd: 'bench'; keys: string[]; durationMs: number; inFlight: number }
  | { cmd: 'events' }
  | { cmd: 'owners'; keys: string[] }
  | { cmd: 'loads' }
  | { cmd: 'churn'; hotKeys: string[]; writtenKeys: string[]; concurrency: number; putShare: number }
  | { cmd: 'churnStop' }
  | { cmd: 'stop' };

const config = JSON.parse(process.env.DISTCACHE_TEST_NODE!) as NodeConfig;
/** Errors only; everything from info up with DISTCACHE_TEST_VERBOSE=1 (to debug a test). */
const verbose = (level: string) => (fields: object, message?: string) =>
  console.error(`${new Date().toISOString().slice(17, 23)} ${config.ip} ${level} ${message}`, JSON.stringify(fields));
const quiet: Logger = process.env.DISTCACHE_TEST_VERBOSE
  ? { debug() {}, info: verbose('info'), warn: verbose('warn'), error: verbose('error') }
  : { debug() {}, info() {}, warn() {}, error: (fields, message) => console.error(message, fields) };
let calls = 0;
/** Data-source calls per key. */
const loads = new Map<string, number>();
const text = new TextDecoder();
const engine = new Engine({
  logger: quiet,
  bindAddr: config.ip,
  discovery: discoveryOf(config),
  replicaCount: config.replicaCount,
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
    {
      name: 'ks',
      maxBytes: 64 * 1024 * 1024,
      hotCache: config.hotCache,
      replicaReads: config.replicaReads,
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
    },
  ],
});

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

/**
 * Continuous gets over the hot keys and puts (a `putShare` of operations)
 * over the written keys, in `concurrency` loops, until stopped: the client
 * of the rolling-restart test and bench. A put writes `w:<seq>` with a
 * sequence number per key, so a read can tell an older value from a newer one.
 */
class ChurnLoad {
  readonly report: ChurnReport = { gets: 0, failedGets: [], staleReads: [], puts: 0, failedPuts: [], acknowledged: {} };
  #stopped = false;
  readonly #done: Promise<unknown>;
  readonly #sequence = new Map<string, number>();

  constructor(hotKeys: string[], writtenKeys: string[], concurrency: number, putShare: number) {
    this.#done = Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let i = worker; !this.#stopped; i += concurrency) {
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
      const result = await engine.get('ks', key);
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
      await engine.put('ks', { key, value: new TextEncoder().encode(`w:${sequence}`) });
      this.report.puts++;
      this.report.acknowledged[key] = Math.max(this.report.acknowledged[key] ?? 0, sequence);
    } catch (error) {
      this.report.failedPuts.push({ at: Date.now(), code: codeOf(error) });
    }
  }
}

/** The sequence number of a churn put's value `w:<seq>`; -1 for anything else (a data-source value). */
function sequenceOf(value: string): number {
  return value.startsWith('w:') ? Number(value.slice(2)) : -1;
}

function codeOf(error: unknown): string {
  return isDistCacheError(error) ? error.code : String(error);
}

let churn: ChurnLoad | undefined;

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
    case 'put':
      await engine.put('ks', { key: command.key, value: new TextEncoder().encode(command.value) });
      return true;
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
    case 'loads':
      return Object.fromEntries(loads);
    case 'churn':
      churn = new ChurnLoad(command.hotKeys, command.writtenKeys, command.concurrency, command.putShare);
      return true;
    case 'churnStop':
      return churn?.stop();
    case 'stop':
      await engine.stop();
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
