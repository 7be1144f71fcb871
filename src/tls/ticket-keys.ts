import { randomBytes } from 'node:crypto';
import { DistCacheError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { MAX_TIMEOUT_MS } from '../protocol/codec.js';
import { attemptWithin, describeError } from './attempt.js';
import type { SharedCache } from './shared-cache.js';

/** Bytes of a Node ticket key: 16 of key name, 16 of HMAC secret, 16 of AES key. */
export const TICKET_KEY_BYTES = 48;

/** How long a ticket key entry outlives its epoch, for servers whose clocks run a little behind. */
const ENTRY_GRACE_MS = 60_000;
/** A server re-reads its epoch's key this often (at most): an entry evicted and replaced is adopted. */
const MAX_REFRESH_MS = 10_000;
/** After a failed agreement, the next attempt comes this soon (at most). */
const RETRY_MS = 1_000;
/** Agreement is not on a handshake's path: it may take longer than a handshake's deadline. */
const MIN_AGREEMENT_MS = 1_000;

/** The rotation epoch `now` falls in: epochs are aligned on the clock, so every server computes the same one. */
export function epochOf(now: number, intervalMs: number): number {
  return Math.floor(now / intervalMs);
}

/** The cache id of a key series' key for one epoch (ASCII, at most 64 bytes). */
export function ticketKeyId(name: string, intervalMs: number, epoch: number): Uint8Array {
  return new TextEncoder().encode(`distcache-tk:${name}:${intervalMs}:${epoch}`);
}

/** What a {@link TicketKeyRotation} needs. */
export interface TicketKeyRotationSettings {
  readonly cache: SharedCache;
  /** Milliseconds of one epoch. */
  readonly intervalMs: number;
  /** The key series: fleets that share a cache but not tickets use different names. */
  readonly name: string;
  /** Milliseconds one agreement may take, at least {@link MIN_AGREEMENT_MS}. */
  readonly deadlineMs: number;
  /** Applies a key (48 bytes) to the server; called only when it differs from the server's. */
  readonly apply: (key: Buffer) => void;
  /** The key the server uses now. */
  readonly current: () => Buffer;
  readonly logger: Logger;
}

/**
 * Keeps a server's TLS ticket key equal to the fleet's: one key per epoch of
 * `intervalMs`, agreed through the cache. The first server to reach an
 * epoch adds a random key under the epoch's id (add-if-absent, so only one
 * key can win); the others read it. At every epoch boundary each server
 * moves to the new epoch's key, and between boundaries it reads its key
 * again, so a key lost from the cache and added anew is adopted by all.
 *
 * Node holds one ticket key per server (`setTicketKeys` takes exactly 48
 * bytes), so tickets sealed before a rotation are no longer accepted after it:
 * the client does one full handshake and receives a new ticket.
 */
export class TicketKeyRotation {
  readonly #settings: TicketKeyRotationSettings;
  #timer: NodeJS.Timeout | undefined;
  #epoch: number | undefined;
  #key: Buffer | undefined;
  #changes = 0;
  #failing = false;
  readonly #closing = new AbortController();

  constructor(settings: TicketKeyRotationSettings) {
    this.#settings = settings;
  }

  /** The epoch whose key the server uses; undefined until the first agreement. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  /** Times an agreed key was applied to the server. */
  get changes(): number {
    return this.#changes;
  }

  /** Agrees on the current epoch's key (or fails within the deadline and retries later), then keeps rotating. */
  async start(): Promise<void> {
    await this.#tick();
  }

  /** Stops rotating; the server keeps its current key. */
  close(): void {
    this.#closing.abort(new DistCacheError(ErrorCode.ABORTED, 'ticket key rotation closed'));
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    const { intervalMs, deadlineMs } = this.#settings;
    const epoch = epochOf(Date.now(), intervalMs);
    const attempt = await attemptWithin(
      Math.max(deadlineMs, MIN_AGREEMENT_MS),
      (signal) => this.#agree(epoch, signal),
      this.#closing.signal,
    );
    if (this.#closing.signal.aborted) return;
    if (attempt.ok) this.#use(epoch, attempt.value);
    else this.#failed(epoch, attempt.error);
    this.#schedule(attempt.ok ? Infinity : RETRY_MS);
  }

  /** The epoch's key: the one in the cache, else ours added (a new random one, or the one we hold for this epoch). */
  async #agree(epoch: number, signal: AbortSignal): Promise<Buffer> {
    const { cache, name, intervalMs } = this.#settings;
    const id = ticketKeyId(name, intervalMs, epoch);
    const found = await cache.get(id, { signal });
    if (found !== undefined) return checkedKey(found);
    const proposal = epoch === this.#epoch && this.#key ? this.#key : randomBytes(TICKET_KEY_BYTES);
    const ttl = Math.min(MAX_TIMEOUT_MS, (epoch + 1) * intervalMs - Date.now() + ENTRY_GRACE_MS);
    if (await cache.add(id, proposal, ttl, { signal })) return proposal;
    const winner = await cache.get(id, { signal });
    if (winner === undefined) throw new DistCacheError(ErrorCode.PEER_UNAVAILABLE, 'the epoch key vanished');
    return checkedKey(winner);
  }

  #use(epoch: number, key: Buffer): void {
    const { apply, current, logger } = this.#settings;
    this.#epoch = epoch;
    this.#key = key;
    if (!current().equals(key)) {
      apply(key);
      this.#changes++;
    }
    if (this.#failing) logger.info({ epoch }, 'distcache/tls: ticket keys agreed through the cache again');
    this.#failing = false;
  }

  /** Logs the first failure of a run (never the keys); the server keeps the key it has. */
  #failed(epoch: number, error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#settings.logger.warn(
      { epoch, error: describeError(error) },
      'distcache/tls: could not agree on the ticket key through the cache; keeping the current one and retrying',
    );
  }

  /** Wakes at the next epoch boundary, or sooner to refresh (or retry after `soonest` ms). */
  #schedule(soonest: number): void {
    const { intervalMs } = this.#settings;
    const now = Date.now();
    const untilBoundary = (epochOf(now, intervalMs) + 1) * intervalMs - now + 1;
    const refresh = Math.min(MAX_REFRESH_MS, Math.ceil(intervalMs / 4));
    this.#timer = setTimeout(() => void this.#tick(), Math.min(untilBoundary, refresh, soonest));
    this.#timer.unref();
  }
}

function checkedKey(value: Uint8Array): Buffer {
  if (value.byteLength !== TICKET_KEY_BYTES)
    throw new DistCacheError(
      ErrorCode.PROTOCOL,
      `the ticket key entry holds ${value.byteLength} bytes, not ${TICKET_KEY_BYTES}: another program wrote that id`,
    );
  return Buffer.from(value); // a copy: engine values may share a buffer with others
}
