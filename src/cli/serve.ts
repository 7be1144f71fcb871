import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { parse as parseYaml } from 'yaml';
import { StaticDiscovery } from '../../discovery/static.js';
import { DEFAULTS } from '../config.js';
import type { DiscoveryProvider } from '../discovery.js';
import { Engine } from '../engine.js';
import { DistCacheError, ErrorCode } from '../errors.js';
import { defaultLogger } from '../logger.js';
import type { EngineOptions } from '../options.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import { untilSignal } from './signals.js';

const FLAGS = {
  listen: { type: 'string', multiple: true },
  'max-bytes': { type: 'string' },
  'bind-addr': { type: 'string' },
  'bind-port': { type: 'string' },
  'discovery-port': { type: 'string' },
  peers: { type: 'string' },
  dns: { type: 'string' },
  'dns-server': { type: 'string' },
  nats: { type: 'string' },
  kubernetes: { type: 'string' },
  replicas: { type: 'string' },
  'cluster-key': { type: 'string' },
  admin: { type: 'string' },
  'admin-token': { type: 'string' },
  config: { type: 'string' },
} as const;

const USAGE = `usage: distcache serve --listen ADDR [--listen ADDR]... [options]

Runs a node: the distcache session listener on each ADDR, backed by the
engine; standalone without a discovery flag (--peers, --dns, --nats,
--kubernetes: at most one), else a member of the cluster.

  --listen ADDR          UNIX:/path, IP:port or IP:host:port (repeatable)
  --max-bytes N          size of the session keyspace (default ${DEFAULTS.sessionMaxBytes})
  --bind-addr IP         peer and discovery address (default ${DEFAULTS.bindAddr})
  --bind-port N          peer port (default ${DEFAULTS.bindPort})
  --discovery-port N     discovery port (default ${DEFAULTS.discoveryPort})
  --peers H:P,H:P        static discovery: the nodes' discovery addresses
  --dns NAME             DNS discovery: A records of NAME (SRV when NAME
                         starts with "_", e.g. _distcache._tcp.cache.internal)
  --dns-server IP[:PORT] DNS server to ask (default: the system's)
  --nats URL,URL         NATS discovery through these servers (needs the
                         package @nats-io/transport-node installed)
  --kubernetes SELECTOR  Kubernetes discovery: Running and Ready pods with
                         these labels, in the pod's own namespace (needs the
                         package @kubernetes/client-node installed)
  --replicas N           nodes holding each session (default ${DEFAULTS.replicaCount})
  --cluster-key KEY      pre-shared key of the cluster (16+ characters)
  --admin HOST:PORT      the admin HTTP server (health, readiness, members,
                         keyspaces, /metrics, dashboard), e.g. ${DEFAULTS.adminListen}
  --admin-token TOKEN    bearer token the admin DELETE endpoints require
  --config FILE          JSON or YAML file of engine options that are data

Every flag can also be set as DISTCACHE_<FLAG> (e.g. DISTCACHE_PEERS,
DISTCACHE_LISTEN=a,b); flags win over the environment, which wins over the
file. SIGTERM and SIGINT stop the node gracefully.`;

/** Builds the engine options from the config file, the environment and the flags. */
export async function serveOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<EngineOptions> {
  const flags = parseFlags(argv, FLAGS, env);
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  // A server logs its lifecycle (started, joined, stopped), unlike an engine embedded in an application.
  const options: EngineOptions = { keyspaces: [], logger: defaultLogger('info'), ...file };
  const sessionCache = { ...(options.sessionCache ?? { listen: [] }) };
  if (flags.listen !== undefined) sessionCache.listen = flags.listen;
  if (flags['max-bytes'] !== undefined) sessionCache.maxBytes = integerFlag('max-bytes', flags['max-bytes'], 0, 1);
  if (sessionCache.listen.length === 0)
    throw new UsageError('give at least one --listen address (or sessionCache.listen in --config)');
  options.sessionCache = sessionCache;
  if (flags['bind-addr'] !== undefined) options.bindAddr = flags['bind-addr'];
  if (flags['bind-port'] !== undefined) options.bindPort = integerFlag('bind-port', flags['bind-port'], 0);
  if (flags['discovery-port'] !== undefined)
    options.discoveryPort = integerFlag('discovery-port', flags['discovery-port'], 0);
  if (flags.replicas !== undefined) options.replicaCount = integerFlag('replicas', flags.replicas, 1, 1);
  if (flags['cluster-key'] !== undefined) options.clusterKey = flags['cluster-key'];
  if (flags['admin-token'] !== undefined && flags.admin === undefined && options.admin === undefined)
    throw new UsageError('--admin-token goes with --admin HOST:PORT');
  if (flags.admin !== undefined || flags['admin-token'] !== undefined) {
    options.admin = {
      ...options.admin,
      ...(flags.admin === undefined ? {} : { listen: flags.admin }),
      ...(flags['admin-token'] === undefined ? {} : { token: flags['admin-token'] }),
    };
  }
  const discovery = await discoveryFromFlags(flags, options.discoveryPort);
  if (discovery) options.discovery = discovery;
  return options;
}

interface DiscoveryFlags {
  peers?: string;
  dns?: string;
  'dns-server'?: string;
  nats?: string;
  kubernetes?: string;
}

/**
 * The discovery provider the flags name, if any; at most one may be given.
 * Providers load on demand: the Kubernetes client alone takes 0.4 s to import.
 */
async function discoveryFromFlags(
  flags: DiscoveryFlags,
  discoveryPort: number | undefined,
): Promise<DiscoveryProvider | undefined> {
  const given = (['peers', 'dns', 'nats', 'kubernetes'] as const).filter((flag) => flags[flag] !== undefined);
  if (given.length > 1)
    throw new UsageError(`give one discovery flag, not ${given.map((flag) => `--${flag}`).join(' and ')}`);
  if (flags['dns-server'] !== undefined && flags.dns === undefined)
    throw new UsageError('--dns-server goes with --dns NAME');
  const list = (value: string) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  if (flags.peers !== undefined) return new StaticDiscovery({ peers: list(flags.peers) });
  if (flags.dns !== undefined) {
    const { DnsDiscovery } = await import('../../discovery/dns.js');
    const servers = flags['dns-server'] === undefined ? {} : { servers: list(flags['dns-server']) };
    return new DnsDiscovery({
      name: flags.dns,
      type: flags.dns.startsWith('_') ? 'SRV' : 'A',
      port: discoveryPort,
      ...servers,
    });
  }
  if (flags.nats !== undefined) {
    const { NatsDiscovery } = await import('../../discovery/nats.js');
    return new NatsDiscovery({ servers: list(flags.nats) });
  }
  if (flags.kubernetes !== undefined) {
    const { KubernetesDiscovery } = await import('../../discovery/kubernetes.js');
    return new KubernetesDiscovery({ labelSelector: flags.kubernetes });
  }
  return undefined;
}

function readConfigFile(path: string): Partial<EngineOptions> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --config ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new DistCacheError(
      ErrorCode.INVALID_CONFIG,
      `--config ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new DistCacheError(ErrorCode.INVALID_CONFIG, `--config ${path} must hold an object of engine options`);
  return parsed as Partial<EngineOptions>;
}

/**
 * Lets V8's old generation grow to twice its live size before the next full
 * garbage collection. V8 picks that factor (1.1 to 4) from how cheap its last
 * collections looked, and a busy serve's look cheap: it chose 1.1, which left
 * less room above the live heap than one young generation fills, so under
 * load serve ran a full collection every 0.15 s, its concurrent marking
 * taking CPU from the requests on the other core. serve owns its process;
 * the embeddable engine leaves V8's flags to the application.
 */
function letHeapGrowBetweenCollections(): void {
  setFlagsFromString(SERVE_V8_FLAGS);
}

/** The V8 flags serve sets for itself (see letHeapGrowBetweenCollections); benchmarks give other node processes the same. */
export const SERVE_V8_FLAGS = '--heap-growing-percent=100';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run a node with the distcache session listener',
  usage: USAGE,
  async run(argv) {
    letHeapGrowBetweenCollections();
    const engine = new Engine(await serveOptions(argv));
    // Listen for the signals before saying so: a supervisor may send SIGTERM as soon as it reads the line.
    const signalled = untilSignal();
    await engine.start();
    process.stdout.write(`distcache serve: listening on ${engine.sessionAddresses().join(', ')}\n`);
    const adminUrl = engine.adminUrl();
    if (adminUrl) process.stdout.write(`distcache serve: admin on ${adminUrl}\n`);
    await signalled;
    await engine.stop();
    return 0;
  },
};
