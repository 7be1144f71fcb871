import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeyspaceStats } from '../keyspace/types.js';

/** What the metrics read at scrape time: sizes and states the engine already keeps. */
export interface MetricSources {
  /** Each keyspace: its stats, and its count of gets answered at once (kept on the keyspace, read here). */
  keyspaces(): { name: string; stats: KeyspaceStats; immediate: ImmediateGets }[];
  /** Members by state, this node included (alone when standalone). */
  members(): { state: string }[];
  /** Async writes whose background copies are being sent, and those waiting for room (none when standalone). */
  replicating(): { running: number; waiting: number };
}

/** Gets a keyspace answered at once, counted with one increment each on the hot path (the keyspace itself). */
export interface ImmediateGets {
  readonly immediateHits: number;
  readonly immediateNotFound: number;
}

/** Engine calls that are counted and timed. */
export type Operation = 'get' | 'put' | 'delete';

/** Seconds: from a hit in memory (microseconds) to a slow data source. */
const LATENCY_BUCKETS = [
  0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
/** Each distcache protocol operation with its usual answer: the series that exist, at 0, once the listener runs. */
const SESSION_SERIES = [
  ['ADD', 'OK'],
  ['GET', 'FOUND'],
  ['REMOVE', 'OK'],
  ['HAVE', 'OK'],
] as const;

/** What the engine runs besides its keyspaces, so that the series of an idle part exist (at 0) rather than lack. */
export interface MetricParts {
  /** The distcache protocol listener (`sessionCache`). */
  readonly sessionListener?: boolean;
}

/**
 * The engine's Prometheus metrics (prom-client), in a registry of its own so
 * several engines in one process do not collide. Loads, waiting gets, writes,
 * peer requests and the like update them as they happen; hits, which take
 * less time than prom-client's label lookup, are plain counters on their
 * keyspace added in at scrape time, like store sizes, breaker states and
 * members.
 */
export class EngineMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'keyspace' | 'operation' | 'outcome'>;
  /** Running totals already added to their counters, by keyspace (a keyspace updated anew starts from zero). */
  readonly #reported = new WeakMap<ImmediateGets, Map<string, number>>();
  readonly #requestSeconds: Histogram<'keyspace' | 'operation' | 'outcome'>;
  readonly #loadSeconds: Histogram<'keyspace' | 'outcome'>;
  readonly #breakerTransitions: Counter<'keyspace' | 'state'>;
  readonly #membershipChanges: Counter<'kind'>;
  readonly #peerSeconds: Histogram<'type' | 'outcome'>;
  readonly #sessionOperations: Counter<'operation' | 'status'>;
  readonly #replicationFailures: Counter<'keyspace'>;

  constructor(sources: MetricSources, parts: MetricParts = {}) {
    const registers = [this.registry];
    const reported = this.#reported;
    /** What a running total a keyspace keeps grew by since the last scrape. */
    const growth = (keyspace: ImmediateGets, total: string, value: number): number => {
      let seen = reported.get(keyspace);
      if (seen === undefined) reported.set(keyspace, (seen = new Map()));
      const last = seen.get(total) ?? 0;
      seen.set(total, value);
      return value - last;
    };
    this.#requests = new Counter({
      name: 'distcache_requests_total',
      help: 'Engine calls by keyspace, operation and outcome (hit, miss, not_found, ok, or an error code).',
      labelNames: ['keyspace', 'operation', 'outcome'],
      registers,
      collect() {
        for (const { name: keyspace, immediate } of sources.keyspaces()) {
          const hits = growth(immediate, 'hits', immediate.immediateHits);
          if (hits > 0) this.inc({ keyspace, operation: 'get', outcome: 'hit' }, hits);
          const notFound = growth(immediate, 'notFound', immediate.immediateNotFound);
          if (notFound > 0) this.inc({ keyspace, operation: 'get', outcome: 'not_found' }, notFound);
        }
      },
    });
    this.#requestSeconds = new Histogram({
      name: 'distcache_request_duration_seconds',
      help: 'Latency of engine calls; gets answered at once (hits) are sampled, 1 in 1024.',
      labelNames: ['keyspace', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#loadSeconds = new Histogram({
      name: 'distcache_datasource_duration_seconds',
      help: 'Latency of data-source loads by outcome (found, not_found, or an error code).',
      labelNames: ['keyspace', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#breakerTransitions = new Counter({
      name: 'distcache_breaker_transitions_total',
      help: 'Circuit breaker transitions by the state entered.',
      labelNames: ['keyspace', 'state'],
      registers,
    });
    this.#membershipChanges = new Counter({
      name: 'distcache_membership_changes_total',
      help: 'Cluster membership changes seen by this node.',
      labelNames: ['kind'],
      registers,
    });
    this.#peerSeconds = new Histogram({
      name: 'distcache_peer_request_duration_seconds',
      help: 'Latency of requests to other nodes, by message type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#sessionOperations = new Counter({
      name: 'distcache_session_operations_total',
      help: 'distcache protocol requests answered, by operation and status.',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#replicationFailures = new Counter({
      name: 'distcache_replication_failures_total',
      help: 'Copies of async writes (replication "async") that did not reach an owner, by keyspace.',
      labelNames: ['keyspace'],
      registers,
    });
    new Gauge({
      name: 'distcache_replication_pending',
      help: 'Async writes whose copies are being sent (running) or wait for room (waiting).',
      labelNames: ['state'],
      registers,
      collect() {
        const { running, waiting } = sources.replicating();
        this.set({ state: 'running' }, running);
        this.set({ state: 'waiting' }, waiting);
      },
    });
    if (parts.sessionListener)
      for (const [operation, status] of SESSION_SERIES) this.#sessionOperations.inc({ operation, status }, 0);
    const perKeyspace = (name: string, help: string, read: (stats: KeyspaceStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['keyspace'],
        registers,
        collect() {
          this.reset();
          for (const { name: keyspace, stats } of sources.keyspaces()) this.set({ keyspace }, read(stats));
        },
      });
    perKeyspace(
      'distcache_store_bytes',
      'Bytes held by the store (keys, values and per-entry overhead).',
      (stats) => stats.bytes,
    );
    perKeyspace('distcache_store_max_bytes', 'Capacity of the store in bytes.', (stats) => stats.maxBytes);
    perKeyspace('distcache_store_entries', 'Entries held by the store.', (stats) => stats.entries);
    new Counter({
      name: 'distcache_store_evictions_total',
      help: 'Entries evicted to make room.',
      labelNames: ['keyspace'],
      registers,
      collect() {
        for (const { name: keyspace, stats, immediate } of sources.keyspaces()) {
          const evicted = growth(immediate, 'evictions', stats.evictions);
          if (evicted > 0) this.inc({ keyspace }, evicted);
        }
      },
    });
    perKeyspace('distcache_limiter_queued', 'Loads waiting for a rate-limiter slot.', (stats) => stats.limiterQueued);
    new Gauge({
      name: 'distcache_breaker_state',
      help: 'Circuit breaker state: 1 for the current state.',
      labelNames: ['keyspace', 'state'],
      registers,
      collect() {
        this.reset();
        for (const { name: keyspace, stats } of sources.keyspaces()) {
          if (stats.breakerState === 'disabled') continue;
          for (const state of BREAKER_STATES) this.set({ keyspace, state }, stats.breakerState === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'distcache_cluster_members',
      help: 'Members known to this node by state, itself included.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const { state } of sources.members()) counts.set(state, (counts.get(state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
  }

  /** One engine call finished: counted and timed. */
  request(keyspace: string, operation: Operation, outcome: string, seconds: number): void {
    this.#requests.inc({ keyspace, operation, outcome });
    this.#requestSeconds.observe({ keyspace, operation, outcome }, seconds);
  }

  /** A sampled latency of a call counted elsewhere (immediate gets, counted on their keyspace). */
  observe(keyspace: string, operation: Operation, outcome: string, seconds: number): void {
    this.#requestSeconds.observe({ keyspace, operation, outcome }, seconds);
  }

  /** One data-source call finished. */
  load(keyspace: string, outcome: string, seconds: number): void {
    this.#loadSeconds.observe({ keyspace, outcome }, seconds);
  }

  breakerTransition(keyspace: string, state: string): void {
    this.#breakerTransitions.inc({ keyspace, state });
  }

  membershipChange(kind: string): void {
    this.#membershipChanges.inc({ kind });
  }

  /** One request to another node finished. */
  peerRequest(type: string, outcome: string, seconds: number): void {
    this.#peerSeconds.observe({ type, outcome }, seconds);
  }

  sessionOperation(operation: string, status: string): void {
    this.#sessionOperations.inc({ operation, status });
  }

  replicationFailure(keyspace: string): void {
    this.#replicationFailures.inc({ keyspace });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
