import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { discoveryAddress, type DiscoveryContext, type DiscoveryProvider } from '../src/discovery.js';
import { DistCacheError, ErrorCode } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { parseOptions, portNumber, timerMs } from '../src/validate.js';

/** Options of {@link DnsDiscovery}. */
export interface DnsDiscoveryOptions {
  /** The name to resolve, e.g. `cache.internal` or `_discovery._tcp.cache.internal` for SRV. */
  name: string;
  /** Discovery port of the nodes found through A/AAAA records (SRV records carry their own). Default 3322. */
  port?: number;
  /** Record type to ask for. Default `'A'`. */
  type?: 'A' | 'AAAA' | 'SRV';
  /** DNS servers to ask (`host` or `host:port`, `[ipv6]:port`). Default: the system's resolvers. */
  servers?: string[];
  /** Longest time between two lookups in ms, whatever the records' TTL. Default 30 000. */
  refreshInterval?: number;
  /** Shortest time between two lookups in ms, however short the TTL. Default 1 000. */
  minRefreshInterval?: number;
  /** Time a lookup may take in ms before it counts as failed (then retried at minRefreshInterval). Default 2 000. */
  timeout?: number;
}

const dnsOptionsSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/, 'must be a DNS name'),
    port: portNumber.default(3322),
    type: z.enum(['A', 'AAAA', 'SRV']).default('A'),
    servers: z.array(z.string().min(1)).min(1, 'must list at least one server').optional(),
    refreshInterval: timerMs.default(30_000),
    minRefreshInterval: timerMs.default(1_000),
    timeout: timerMs.default(2_000),
  })
  .refine((options) => options.minRefreshInterval <= options.refreshInterval, {
    message: 'must not exceed refreshInterval',
    path: ['minRefreshInterval'],
  });

type ResolvedOptions = z.infer<typeof dnsOptionsSchema>;

interface Answer {
  addresses: string[];
  /** Seconds the answer may be cached, the smallest TTL among its records; undefined when DNS does not say (SRV). */
  ttl: number | undefined;
}

/**
 * Peers from DNS: every A/AAAA record of `name` (with `port`) or every SRV
 * record's target and port. The answer is looked up again when its TTL runs
 * out, clamped between `minRefreshInterval` and `refreshInterval`. A failed
 * lookup (NXDOMAIN, SERVFAIL, timeout, a malformed answer) is logged once and
 * the last good answer kept, so a DNS outage does not shrink the cluster;
 * retries back off from `minRefreshInterval` to `refreshInterval`.
 */
export class DnsDiscovery implements DiscoveryProvider {
  readonly name = 'dns';
  readonly #options: ResolvedOptions;
  #resolver: Resolver | undefined;
  #context: DiscoveryContext | undefined;
  #addresses: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lookup: Promise<void> | undefined;
  #answered = false;
  /** Lookups failed in a row: retries back off from minRefreshInterval, doubling up to refreshInterval. */
  #failures = 0;
  /** When the last lookup started (ms). */
  #lastAttempt = 0;

  constructor(options: DnsDiscoveryOptions) {
    this.#options = validate(options);
  }

  async start(context?: DiscoveryContext): Promise<void> {
    this.#context = context;
    this.#resolver = new Resolver({ timeout: this.#options.timeout, tries: 1 });
    if (this.#options.servers) this.#resolver.setServers(this.#options.servers);
    await this.#refresh();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolver?.cancel();
    this.#resolver = undefined;
    await this.#lookup;
  }

  /** The last good answer; before the first one, a lookup now (at most once per minRefreshInterval). */
  async addresses(): Promise<string[]> {
    const due = Date.now() - this.#lastAttempt >= this.#options.minRefreshInterval;
    if (!this.#answered && this.#resolver && (this.#lookup !== undefined || due))
      await (this.#lookup ?? this.#refresh());
    return [...this.#addresses];
  }

  /** Looks the name up once (joining a lookup in progress) and schedules the next lookup. */
  #refresh(): Promise<void> {
    if (this.#lookup === undefined) this.#lastAttempt = Date.now();
    this.#lookup ??= this.#lookUp().finally(() => (this.#lookup = undefined));
    return this.#lookup;
  }

  async #lookUp(): Promise<void> {
    const resolver = this.#resolver;
    if (!resolver) return;
    const { minRefreshInterval, refreshInterval } = this.#options;
    let nextIn: number;
    try {
      const answer = await this.#resolve(resolver);
      nextIn = Math.min(refreshInterval, Math.max(minRefreshInterval, (answer.ttl ?? Infinity) * 1000));
      this.#failures = 0;
      this.#accept(answer.addresses);
    } catch (error) {
      if (this.#resolver !== resolver) return;
      nextIn = Math.min(refreshInterval, minRefreshInterval * 2 ** this.#failures);
      const fields = {
        query: this.#options.name,
        type: this.#options.type,
        err: (error as Error).message,
        retryIn: nextIn,
      };
      if (this.#failures++ === 0) this.#logger()?.warn(fields, 'DNS discovery lookup failed; keeping the last answer');
      else this.#logger()?.debug(fields, 'DNS discovery lookup failed again');
    }
    if (this.#resolver !== resolver) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#refresh(), nextIn);
  }

  #accept(addresses: string[]): void {
    const sorted = [...new Set(addresses)].sort();
    const changed = sorted.join(',') !== this.#addresses.join(',');
    this.#addresses = sorted;
    this.#answered = true;
    if (!changed) return;
    this.#logger()?.info({ query: this.#options.name, addresses: sorted }, 'DNS discovery answer changed');
    this.#context?.changed();
  }

  async #resolve(resolver: Resolver): Promise<Answer> {
    const { name, type, port } = this.#options;
    if (type === 'SRV') return this.#resolveSrv(resolver);
    const records =
      type === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
    return {
      addresses: records
        .filter((record) => isIP(record.address) !== 0)
        .map((record) => discoveryAddress(record.address, port)),
      ttl: Math.min(...records.map((record) => record.ttl)),
    };
  }

  /** SRV records name hosts; each is resolved (A, then AAAA) through the same servers. */
  async #resolveSrv(resolver: Resolver): Promise<Answer> {
    const records = await resolver.resolveSrv(this.#options.name);
    const usable = records.filter((record) => {
      const ok = record.port > 0 && record.name !== '' && record.name !== '.';
      if (!ok) this.#logger()?.debug({ record }, 'DNS discovery ignored an SRV record without a target or port');
      return ok;
    });
    const resolved = await Promise.all(
      usable.map(async (record) => {
        const hosts = isIP(record.name) ? [record.name] : await resolveHost(resolver, record.name);
        if (hosts.length === 0)
          this.#logger()?.debug({ target: record.name }, 'DNS discovery could not resolve an SRV target');
        return hosts.map((host) => discoveryAddress(host, record.port));
      }),
    );
    return { addresses: resolved.flat(), ttl: undefined };
  }

  #logger(): Logger | undefined {
    return this.#context?.logger;
  }
}

async function resolveHost(resolver: Resolver, host: string): Promise<string[]> {
  const v4 = await resolver.resolve4(host).catch(() => []);
  return v4.length > 0 ? v4 : resolver.resolve6(host).catch(() => []);
}

function validate(options: DnsDiscoveryOptions): ResolvedOptions {
  const resolved = parseOptions(dnsOptionsSchema, options, 'DnsDiscovery options');
  if (resolved.servers) {
    try {
      new Resolver().setServers(resolved.servers);
    } catch (error) {
      throw new DistCacheError(
        ErrorCode.INVALID_CONFIG,
        `DnsDiscovery options.servers: must be IP addresses with optional ports, got ${JSON.stringify(resolved.servers)}`,
        { cause: error },
      );
    }
  }
  return resolved;
}
