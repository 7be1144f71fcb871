import tls from 'node:tls';
import { z } from 'zod';
import { DEFAULTS as ENGINE_DEFAULTS } from '../config.js';
import { DistCacheError, ErrorCode, isDistCacheError } from '../errors.js';
import { defaultLogger, type Logger } from '../logger.js';
import { MAX_ID_BYTES, MAX_MESSAGE_BYTES, MAX_TIMEOUT_MS } from '../protocol/codec.js';
import { SessionCacheClient } from '../protocol/session-cache-client.js';
import { loggerSchema, parseOptions } from '../validate.js';
import { attemptWithin, describeError, type Attempt } from './attempt.js';
import { TLS1_3_VERSION, sessionProtocolVersion } from './session-der.js';
import { EngineSharedCache, type SharedCache, type TlsEngine } from './shared-cache.js';
import { TicketKeyRotation } from './ticket-keys.js';

/** Options of {@link shareTlsSessions}. Give exactly one of `engine` and `remote`. */
export interface ShareTlsSessionsOptions {
  /** The engine this process embeds: sessions and ticket keys live in its keyspace `keyspace`, shared by its cluster. */
  engine?: TlsEngine;
  /** A client of a distcache listener (`distcache serve`, a proxy, dc_server), for a process without an engine; you close it. */
  remote?: SessionCacheClient;
  /** The engine's keyspace for sessions and ticket keys (engine only). Default `ssl-sessions`, the one `sessionCache` creates. */
  keyspace?: string;
  /** Milliseconds a handshake waits for the cache at most; then it goes on as a full handshake. Default 100. */
  deadline?: number;
  /**
   * Share TLS 1.2 sessions by id: store each new one (`newSession`) and look
   * up each id a client offers (`resumeSession`). Default true. Node asks for
   * every ClientHello that carries a session id and no ticket, including the
   * random ids TLS 1.3 clients send, so `false` saves a cache read per
   * handshake when every client resumes with tickets.
   */
  sessionIds?: boolean;
  /**
   * Keep the server's ticket key (TLS 1.3 tickets, and TLS 1.2 tickets) equal
   * across the fleet, rotated every `rotationInterval` ms (default 3600000,
   * 1 hour; at least 1000); `name` (default `default`) separates the key
   * series of fleets that share one cache. `false` leaves the server's own key.
   */
  ticketKeys?: false | { rotationInterval?: number; name?: string };
  /** Where warnings go (a cache that stops answering, and when it answers again); never sessions or keys. Default: distcache's pino logger. */
  logger?: Logger;
}

/** Counters of one wired server. */
export interface TlsSessionSharingStats {
  /** TLS 1.2 sessions this server stored in the cache. */
  readonly sessionsStored: number;
  /** Session ids clients offered that were looked up. */
  readonly lookups: number;
  /** Lookups that found the session: resumed handshakes that another server (or this one) stored. */
  readonly hits: number;
  /** Stores and lookups the cache failed or did not answer within `deadline`: each one a full handshake at worst. */
  readonly cacheFailures: number;
  /** The rotation epoch of the ticket key in use; undefined before the first agreement, or without `ticketKeys`. */
  readonly ticketKeyEpoch: number | undefined;
  /** Times an agreed ticket key was applied to the server. */
  readonly ticketKeyChanges: number;
}

/** A server wired to the cache by {@link shareTlsSessions}. */
export interface TlsSessionSharing {
  /** Counters since the server was wired. */
  stats(): TlsSessionSharingStats;
  /**
   * Detaches from the server: removes its listeners, stops the rotation timer
   * and ends the cache waits in flight (those handshakes go on in full). The
   * server keeps its last ticket key. Closing the server does this too. Idempotent.
   */
  close(): void;
}

const DEFAULTS = { deadline: 100, rotationInterval: 3_600_000, ticketKeyName: 'default', nodeSessionTimeoutS: 300 };

/** Longest session this stores: what one distcache protocol ADD can carry with a 64-byte id. */
const MAX_SESSION_BYTES = MAX_MESSAGE_BYTES - 8 - MAX_ID_BYTES;

const optionsSchema = z
  .strictObject({
    engine: z
      .custom<TlsEngine>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as TlsEngine).get === 'function' &&
          typeof (value as TlsEngine).put === 'function',
        'must be a distcache Engine',
      )
      .optional(),
    remote: z
      .custom<SessionCacheClient>((value) => value instanceof SessionCacheClient, 'must be a SessionCacheClient')
      .optional(),
    keyspace: z.string().min(1).max(128).optional(),
    deadline: z.number().int().min(1).max(60_000).optional(),
    sessionIds: z.boolean().optional(),
    ticketKeys: z
      .union([
        z.literal(false),
        z.strictObject({
          rotationInterval: z.number().int().min(1_000).max(MAX_TIMEOUT_MS).optional(),
          name: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,24}$/, 'must be 1-24 of A-Z a-z 0-9 . _ -')
            .optional(),
        }),
      ])
      .optional(),
    logger: loggerSchema.optional(),
  })
  .refine(
    (options) => (options.engine === undefined) !== (options.remote === undefined),
    'give exactly one of engine (in process) and remote (a SessionCacheClient)',
  )
  .refine(
    (options) => options.remote === undefined || options.keyspace === undefined,
    'keyspace goes with engine; a remote listener chooses its own keyspace',
  );

/** Servers wired now: wiring one twice would answer each handshake twice. */
const wired = new WeakSet<tls.Server>();

/**
 * Wires a `tls.Server` or `https.Server` to a distcache cache so that a
 * client resumes its TLS session on any server of the fleet:
 *
 * - TLS 1.2 session ids: each new session is stored in the cache
 *   (`newSession`), and an id a client offers is looked up there
 *   (`resumeSession`).
 * - Tickets (TLS 1.3, and TLS 1.2 clients that use them): every server seals
 *   them with the same ticket key, agreed through the cache and rotated every
 *   `ticketKeys.rotationInterval`.
 *
 * A cache that fails or does not answer within `deadline` costs a full
 * handshake, never an error to the client. Resolves once the first ticket key
 * is agreed, or once that failed (after at most the larger of `deadline` and
 * 1 s; it is then retried in the background). Every server must use the same `sessionIdContext`
 * (Node derives the default from `process.argv`), and the cache then holds
 * secrets: protect it (`clusterKey` or `tls`, and TLS on its listener).
 *
 * ```ts
 * const server = https.createServer({ key, cert, sessionIdContext: 'shop' }, app);
 * const sharing = await shareTlsSessions(server, { engine });
 * ```
 *
 * Throws ERR_INVALID_CONFIG for bad options, ERR_INVALID_ARGUMENT when
 * `server` is not a TLS server, is wired already, or has its own
 * `newSession`/`resumeSession` listeners (Node would answer twice).
 */
export async function shareTlsSessions(
  server: tls.Server,
  options: ShareTlsSessionsOptions,
): Promise<TlsSessionSharing> {
  const parsed = parseOptions(optionsSchema, options, 'shareTlsSessions options');
  checkServer(server, parsed.sessionIds ?? true);
  const sharing = new ServerSessionSharing(server, parsed);
  await sharing.start();
  return sharing;
}

function checkServer(server: tls.Server, sessionIds: boolean): void {
  const refuse = (why: string) => new DistCacheError(ErrorCode.INVALID_ARGUMENT, `shareTlsSessions: ${why}`);
  if (!(server instanceof tls.Server)) throw refuse('server must be a tls.Server or an https.Server');
  if (wired.has(server)) throw refuse('this server is wired already; close() the first wiring before wiring it again');
  if (sessionIds) {
    for (const event of ['newSession', 'resumeSession'])
      if (server.listenerCount(event) > 0)
        throw refuse(`the server has a ${event} listener already; Node would call both and fail the handshake`);
  }
}

class ServerSessionSharing implements TlsSessionSharing {
  readonly #server: tls.Server;
  readonly #cache: SharedCache;
  readonly #deadline: number;
  readonly #sessionIds: boolean;
  readonly #sessionTtl: number;
  readonly #rotation: TicketKeyRotation | undefined;
  readonly #logger: Logger;
  readonly #closing = new AbortController();
  #failing = false;
  #sessionsStored = 0;
  #lookups = 0;
  #hits = 0;
  #cacheFailures = 0;

  constructor(server: tls.Server, options: z.infer<typeof optionsSchema>) {
    this.#server = server;
    this.#cache =
      options.remote ?? new EngineSharedCache(options.engine!, options.keyspace ?? ENGINE_DEFAULTS.sessionKeyspace);
    this.#deadline = options.deadline ?? DEFAULTS.deadline;
    this.#sessionIds = options.sessionIds ?? true;
    this.#logger = options.logger ?? defaultLogger();
    // OpenSSL refuses a session older than the server's sessionTimeout (s): keeping it longer would be useless.
    const timeoutS = (server as { sessionTimeout?: number }).sessionTimeout ?? DEFAULTS.nodeSessionTimeoutS;
    this.#sessionTtl = Math.min(MAX_TIMEOUT_MS, timeoutS * 1000);
    if (options.ticketKeys !== false) {
      this.#rotation = new TicketKeyRotation({
        cache: this.#cache,
        intervalMs: options.ticketKeys?.rotationInterval ?? DEFAULTS.rotationInterval,
        name: options.ticketKeys?.name ?? DEFAULTS.ticketKeyName,
        deadlineMs: this.#deadline,
        apply: (key) => server.setTicketKeys(key),
        current: () => server.getTicketKeys(),
        logger: this.#logger,
      });
    }
    wired.add(server);
    if (this.#sessionIds) {
      server.on('newSession', this.#onNewSession);
      server.on('resumeSession', this.#onResumeSession);
    }
    server.once('close', this.close);
  }

  async start(): Promise<void> {
    await this.#rotation?.start();
  }

  stats(): TlsSessionSharingStats {
    return {
      sessionsStored: this.#sessionsStored,
      lookups: this.#lookups,
      hits: this.#hits,
      cacheFailures: this.#cacheFailures,
      ticketKeyEpoch: this.#rotation?.epoch,
      ticketKeyChanges: this.#rotation?.changes ?? 0,
    };
  }

  readonly close = (): void => {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new DistCacheError(ErrorCode.ABORTED, 'distcache/tls: detached from the server'));
    this.#rotation?.close();
    this.#server.off('newSession', this.#onNewSession);
    this.#server.off('resumeSession', this.#onResumeSession);
    this.#server.off('close', this.close);
    wired.delete(this.#server);
  };

  /**
   * Stores a new TLS 1.2 session, then lets the handshake finish (within the
   * deadline), so a client that reconnects at once elsewhere finds it. TLS 1.3
   * sessions are not stored: Node resumes those from tickets, and looks up the
   * random id a TLS 1.3 client sends, never theirs.
   */
  readonly #onNewSession = (id: Buffer, session: Buffer, done: () => void): void => {
    if (sessionProtocolVersion(session) === TLS1_3_VERSION || session.byteLength > MAX_SESSION_BYTES) return done();
    void this.#attempt((signal) => this.#cache.add(id, session, this.#sessionTtl, { signal })).then((attempt) => {
      if (attempt.ok && attempt.value) this.#sessionsStored++;
      done();
    });
  };

  /** Looks up the offered id; a miss, an error or the deadline all answer "no session", never an error (which would fail the handshake). */
  readonly #onResumeSession = (id: Buffer, done: (error: Error | null, session: Buffer | null) => void): void => {
    this.#lookups++;
    void this.#attempt((signal) => this.#cache.get(id, { signal })).then((attempt) => {
      const session = attempt.ok ? attempt.value : undefined;
      if (session !== undefined) this.#hits++;
      done(null, session === undefined ? null : Buffer.from(session.buffer, session.byteOffset, session.byteLength));
    });
  };

  /** One cache call on a handshake's path, bounded by the deadline; counts and logs (once a run) its failures. */
  async #attempt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<Attempt<T>> {
    const attempt = await attemptWithin(this.#deadline, work, this.#closing.signal);
    if (attempt.ok) {
      if (this.#failing) this.#logger.info({}, 'distcache/tls: the cache answers again');
      this.#failing = false;
    } else if (!this.#closing.signal.aborted) {
      this.#cacheFailures++;
      if (!this.#failing)
        this.#logger.warn(
          { error: describeError(attempt.error), deadline: this.#deadline },
          isDistCacheError(attempt.error, ErrorCode.TIMEOUT)
            ? 'distcache/tls: the cache is slow; handshakes go on without it'
            : 'distcache/tls: the cache failed; handshakes go on without it',
        );
      this.#failing = true;
    }
    return attempt;
  }
}
