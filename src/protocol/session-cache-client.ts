import type tls from 'node:tls';
import { z } from 'zod';
import { abortedError, DistCacheError, ErrorCode } from '../errors.js';
import { parseOptions, timerMs } from '../validate.js';
import { parseSessionAddress, type SessionAddress } from './address.js';
import { DcClient } from './client.js';
import { encodeAddRequest, MAX_ID_BYTES, MAX_MESSAGE_BYTES, MAX_TIMEOUT_MS, Operation, Status } from './codec.js';

/** Options of {@link SessionCacheClient}. */
export interface SessionCacheClientOptions {
  /**
   * distcache servers in the C tools' syntax (`IP:host:port`, `UNIX:/path`):
   * `distcache serve` nodes, dc_server, a proxy. The client talks to one at a
   * time, the first that answers; when it fails, the next in the list.
   */
  servers: string[];
  /** Milliseconds a request may wait for its answer before it rejects with ERR_TIMEOUT. Default 100. */
  timeout?: number;
  /** TLS for listeners that serve it (`ca`, and `key`/`cert` when the listener asks for a client certificate). */
  tls?: tls.ConnectionOptions;
  /** Milliseconds to wait, once every server failed to connect, before trying again; requests meanwhile fail at once. Default 1000. */
  reconnectDelay?: number;
  /** Requests that may await an answer at once; more reject at once with ERR_PEER_UNAVAILABLE. Default 1024. */
  maxPending?: number;
}

/** Options of one call. */
export interface SessionCacheCallOptions {
  /** Rejects this call with ERR_ABORTED when it fires. */
  signal?: AbortSignal;
}

const optionsSchema = z.strictObject({
  servers: z.array(z.string().max(300)).min(1).max(16),
  timeout: timerMs.optional(),
  tls: z
    .custom<tls.ConnectionOptions>((value) => typeof value === 'object' && value !== null, 'must be an object')
    .optional(),
  reconnectDelay: timerMs.optional(),
  maxPending: z.number().int().min(1).max(1_000_000).optional(),
});

const DEFAULTS = { timeout: 100, reconnectDelay: 1_000, maxPending: 1_024 } as const;

/** A connection that has had requests waiting this long with no answer at all is abandoned for the next server. */
const STALE_AFTER_TIMEOUTS = 10;
const MIN_STALE_MS = 1_000;

/** One connection and what it owes. */
interface Connection {
  readonly client: DcClient;
  /** Requests written and not yet answered (or failed). */
  waiting: number;
  /** When an answer last arrived, or a request was written to a connection that owed nothing. */
  lastProgress: number;
  established: boolean;
  closed: boolean;
}

/**
 * A client of distcache servers for application code, such as a TLS server's
 * session cache: add, get, remove and have sessions by id, each request
 * bounded by `timeout`. It keeps one persistent connection, opens it on first
 * use, moves to the next server when it breaks, waits `reconnectDelay`
 * once every server failed, and refuses requests beyond `maxPending`, so a
 * cache that is down or frozen costs its callers at most `timeout`.
 *
 * ```ts
 * const cache = new SessionCacheClient({ servers: ['IP:10.0.0.2:9001', 'IP:10.0.0.3:9001'] });
 * await cache.add(id, session, 300_000);
 * const session = await cache.get(id);   // Uint8Array, or undefined
 * cache.close();
 * ```
 *
 * Errors: ERR_TIMEOUT (no answer within `timeout`), ERR_PEER_UNAVAILABLE (no
 * server reachable, the connection broke, the server answered DISCONNECTED,
 * or too many requests wait), ERR_INVALID_ARGUMENT (an id outside 1–64 bytes,
 * a session outside 2 bytes–32 KiB, a timeout over 7 days), ERR_ABORTED,
 * ERR_PROTOCOL (an answer the protocol does not allow).
 */
export class SessionCacheClient {
  readonly #servers: SessionAddress[];
  readonly #tls: tls.ConnectionOptions | undefined;
  readonly #timeout: number;
  readonly #reconnectDelay: number;
  readonly #maxPending: number;
  #connection: Connection | undefined;
  #serverIndex = 0;
  /** Connections in a row that failed before they were established. */
  #failedConnects = 0;
  #retryAt = 0;
  #pending = 0;
  #closed = false;

  /** Validates `options` (ERR_INVALID_CONFIG); connects on the first request. */
  constructor(options: SessionCacheClientOptions) {
    const parsed = parseOptions(optionsSchema, options, 'SessionCacheClient options');
    this.#servers = parsed.servers.map(parseSessionAddress);
    this.#tls = parsed.tls;
    this.#timeout = parsed.timeout ?? DEFAULTS.timeout;
    this.#reconnectDelay = parsed.reconnectDelay ?? DEFAULTS.reconnectDelay;
    this.#maxPending = parsed.maxPending ?? DEFAULTS.maxPending;
  }

  /** The session stored under `id`, or undefined. */
  async get(id: Uint8Array, options?: SessionCacheCallOptions): Promise<Uint8Array | undefined> {
    checkId(id);
    const answer = await this.#request(Operation.GET, id, options?.signal);
    // A one-byte answer is a status: sessions are at least two bytes (see add).
    if (answer.byteLength !== 1) return answer;
    if (answer[0] === Status.NOTOK) return undefined;
    throw statusError('GET', answer[0]!);
  }

  /**
   * Stores `session` under `id` for `ttlMs` milliseconds unless the id is
   * taken: resolves true when stored, false when the server already holds a
   * session under that id (which it keeps).
   */
  async add(id: Uint8Array, session: Uint8Array, ttlMs: number, options?: SessionCacheCallOptions): Promise<boolean> {
    checkId(id);
    if (!Number.isInteger(ttlMs) || ttlMs < 0 || ttlMs > MAX_TIMEOUT_MS)
      throw new DistCacheError(
        ErrorCode.INVALID_ARGUMENT,
        `session ttl must be an integer number of ms in 0..${MAX_TIMEOUT_MS} (7 days), got ${ttlMs}`,
      );
    const room = MAX_MESSAGE_BYTES - 8 - id.byteLength;
    if (session.byteLength < 2 || session.byteLength > room)
      throw new DistCacheError(
        ErrorCode.INVALID_ARGUMENT,
        `a session must be 2..${room} bytes (a one-byte GET answer is a status), got ${session.byteLength}`,
      );
    const status = await this.#status('ADD', Operation.ADD, encodeAddRequest(ttlMs, id, session), options);
    if (status === Status.OK) return true;
    if (status === Status.MATCHING_SESSION) return false;
    throw statusError('ADD', status);
  }

  /** Removes the session under `id`; resolves whether there was one. */
  async remove(id: Uint8Array, options?: SessionCacheCallOptions): Promise<boolean> {
    checkId(id);
    return this.#yesNo('REMOVE', await this.#status('REMOVE', Operation.REMOVE, id, options));
  }

  /** Whether a session is stored under `id`. */
  async have(id: Uint8Array, options?: SessionCacheCallOptions): Promise<boolean> {
    checkId(id);
    return this.#yesNo('HAVE', await this.#status('HAVE', Operation.HAVE, id, options));
  }

  /** Closes the connection; later calls reject with ERR_PEER_UNAVAILABLE. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#connection?.client.close();
    this.#connection = undefined;
  }

  #yesNo(operation: string, status: number): boolean {
    if (status === Status.OK) return true;
    if (status === Status.NOTOK) return false;
    throw statusError(operation, status);
  }

  async #status(name: string, operation: Operation, data: Uint8Array, options?: SessionCacheCallOptions) {
    const answer = await this.#request(operation, data, options?.signal);
    if (answer.byteLength !== 1)
      throw new DistCacheError(ErrorCode.PROTOCOL, `distcache protocol: ${name} answered ${answer.byteLength} bytes`);
    return answer[0]!;
  }

  /** Sends one request on the current connection; settles at its answer, its timeout or its signal, whichever first. */
  #request(operation: Operation, data: Uint8Array, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.#closed) return Promise.reject(unavailable('the client was closed'));
    if (this.#pending >= this.#maxPending)
      return Promise.reject(unavailable(`${this.#pending} requests already await an answer`));
    const connection = this.#current();
    if (connection === undefined)
      return Promise.reject(
        unavailable(`no server could be reached; the next attempt in ${Math.max(0, this.#retryAt - Date.now())} ms`),
      );
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, answer?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(answer!);
      };
      const onAbort = () => settle(abortedError(signal!));
      const timer = setTimeout(() => {
        settle(new DistCacheError(ErrorCode.TIMEOUT, `distcache server: no answer within ${this.#timeout} ms`));
        this.#dropIfStale(connection);
      }, this.#timeout);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (connection.waiting === 0) connection.lastProgress = Date.now();
      connection.waiting++;
      this.#pending++;
      connection.client.request(operation, data).then(
        (message) => {
          this.#answered(connection);
          if (message.operation === operation) settle(undefined, message.data);
          else settle(new DistCacheError(ErrorCode.PROTOCOL, 'distcache protocol: an answer to another operation'));
        },
        (error: Error) => {
          this.#answered(connection);
          settle(error);
        },
      );
    });
  }

  #answered(connection: Connection): void {
    connection.waiting--;
    connection.lastProgress = Date.now();
    this.#pending--;
  }

  /** The open connection, a new one to the current server, or undefined while waiting to reconnect. */
  #current(): Connection | undefined {
    const current = this.#connection;
    if (current !== undefined) this.#dropIfStale(current);
    if (this.#connection !== undefined) return this.#connection;
    if (Date.now() < this.#retryAt) return undefined;
    const client = new DcClient(this.#servers[this.#serverIndex]!, this.#tls ? { tls: this.#tls } : {});
    const connection: Connection = { client, waiting: 0, lastProgress: Date.now(), established: false, closed: false };
    this.#connection = connection;
    client.connected.then(
      () => {
        connection.established = true;
        this.#failedConnects = 0;
      },
      () => undefined,
    );
    void client.closed.then(() => this.#lost(connection));
    return connection;
  }

  /** Closes a connection whose requests have waited `STALE_AFTER_TIMEOUTS` timeouts with no answer: the server is frozen or gone. */
  #dropIfStale(connection: Connection): void {
    const staleAfter = Math.max(MIN_STALE_MS, this.#timeout * STALE_AFTER_TIMEOUTS);
    if (connection.waiting === 0 || Date.now() - connection.lastProgress < staleAfter) return;
    connection.client.close();
    this.#lost(connection);
  }

  /** A connection closed: the next request goes to the next server, after `reconnectDelay` once all of them failed. */
  #lost(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    if (this.#connection === connection) this.#connection = undefined;
    if (this.#closed) return;
    this.#serverIndex = (this.#serverIndex + 1) % this.#servers.length;
    if (connection.established) return;
    this.#failedConnects++;
    if (this.#failedConnects % this.#servers.length === 0) this.#retryAt = Date.now() + this.#reconnectDelay;
  }
}

function checkId(id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.byteLength === 0 || id.byteLength > MAX_ID_BYTES)
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `a session id must be a Uint8Array of 1..${MAX_ID_BYTES} bytes, got ${id instanceof Uint8Array ? `${id.byteLength} bytes` : typeof id}`,
    );
}

function unavailable(why: string): DistCacheError {
  return new DistCacheError(ErrorCode.PEER_UNAVAILABLE, `distcache server unavailable: ${why}`);
}

/** DISCONNECTED is the server saying it cannot reach the session's node; any other unexpected status breaks the protocol. */
function statusError(operation: string, status: number): DistCacheError {
  if (status === Status.DISCONNECTED) return unavailable(`${operation} answered DISCONNECTED`);
  return new DistCacheError(ErrorCode.PROTOCOL, `distcache protocol: ${operation} answered status ${status}`);
}
