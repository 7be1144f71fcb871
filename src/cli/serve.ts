import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { StaticDiscovery } from '../../discovery/static.js';
import { Engine } from '../engine.js';
import type { EngineOptions } from '../config.js';
import { DistCacheError, ErrorCode } from '../errors.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import { untilSignal } from './signals.js';

const FLAGS = {
  listen: { type: 'string', multiple: true },
  'max-bytes': { type: 'string' },
  'bind-addr': { type: 'string' },
  'bind-port': { type: 'string' },
  'discovery-port': { type: 'string' },
  peers: { type: 'string' },
  replicas: { type: 'string' },
  'cluster-key': { type: 'string' },
  config: { type: 'string' },
} as const;

const USAGE = `usage: distcache serve --listen ADDR [--listen ADDR]... [options]

Runs a node: the distcache session listener on each ADDR, backed by the
engine; standalone without --peers, else a member of the cluster.

  --listen ADDR          UNIX:/path, IP:port or IP:host:port (repeatable)
  --max-bytes N          size of the session keyspace (default 2097152)
  --bind-addr IP         peer and discovery address (default 0.0.0.0)
  --bind-port N          peer port (default 3320)
  --discovery-port N     discovery port (default 3322)
  --peers H:P,H:P        static discovery: the nodes' discovery addresses
  --replicas N           nodes holding each session (default 1)
  --cluster-key KEY      pre-shared key of the cluster (16+ characters)
  --config FILE          JSON or YAML file of engine options that are data

Every flag can also be set as DISTCACHE_<FLAG> (e.g. DISTCACHE_PEERS,
DISTCACHE_LISTEN=a,b); flags win over the environment, which wins over the
file. SIGTERM and SIGINT stop the node gracefully.`;

/** Builds the engine options from the config file, the environment and the flags. */
export function serveOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): EngineOptions {
  const flags = parseFlags(argv, FLAGS, env);
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  const options: EngineOptions = { keyspaces: [], ...file };
  const sessionCache = { ...(options.sessionCache ?? { listen: [] }) };
  if (flags.listen !== undefined) sessionCache.listen = flags.listen;
  if (flags['max-bytes'] !== undefined) sessionCache.maxBytes = integerFlag('max-bytes', flags['max-bytes'], 0, 1);
  if (sessionCache.listen.length === 0) throw new UsageError('give at least one --listen address (or sessionCache.listen in --config)');
  options.sessionCache = sessionCache;
  if (flags['bind-addr'] !== undefined) options.bindAddr = flags['bind-addr'];
  if (flags['bind-port'] !== undefined) options.bindPort = integerFlag('bind-port', flags['bind-port'], 0);
  if (flags['discovery-port'] !== undefined) options.discoveryPort = integerFlag('discovery-port', flags['discovery-port'], 0);
  if (flags.replicas !== undefined) options.replicaCount = integerFlag('replicas', flags.replicas, 1, 1);
  if (flags['cluster-key'] !== undefined) options.clusterKey = flags['cluster-key'];
  if (flags.peers !== undefined) options.discovery = new StaticDiscovery({ peers: flags.peers.split(',').map((peer) => peer.trim()).filter(Boolean) });
  return options;
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
    throw new DistCacheError(ErrorCode.INVALID_CONFIG, `--config ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DistCacheError(ErrorCode.INVALID_CONFIG, `--config ${path} must hold an object of engine options`);
  return parsed as Partial<EngineOptions>;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run a node with the distcache session listener',
  usage: USAGE,
  async run(argv) {
    const engine = new Engine(serveOptions(argv));
    await engine.start();
    process.stdout.write(`distcache serve: listening on ${engine.sessionAddresses().join(', ')}\n`);
    await untilSignal();
    await engine.stop();
    return 0;
  },
};
