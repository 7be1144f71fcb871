import { DistCacheError, ErrorCode, describeValue } from '../errors.js';
import type { Codec } from './codecs.js';

/** Longest key in UTF-8 bytes. Keys travel in peer and admin messages, so they are bounded. */
export const MAX_KEY_BYTES = 8192;

/** A UTF-16 string of at most this many code units is at most MAX_KEY_BYTES in UTF-8: no need to count. */
const SAFE_KEY_LENGTH = Math.floor(MAX_KEY_BYTES / 3);

/**
 * Throws ERR_INVALID_ARGUMENT unless `key` is a non-empty, well-formed string
 * of at most {@link MAX_KEY_BYTES}. Well-formed: no lone surrogate, which
 * UTF-8 (the peer wire, the admin API) cannot carry; it would arrive as
 * U+FFFD, so distinct keys would meet on their owner.
 */
export function validateKey(key: unknown): asserts key is string {
  if (
    typeof key === 'string' &&
    key.length > 0 &&
    (key.length <= SAFE_KEY_LENGTH || Buffer.byteLength(key) <= MAX_KEY_BYTES) &&
    key.isWellFormed()
  ) {
    return;
  }
  const why =
    typeof key !== 'string'
      ? `must be a string, got ${describeValue(key)}`
      : key.length === 0
        ? 'must not be empty'
        : !key.isWellFormed()
          ? `must be well-formed Unicode: ${describeValue(key)} holds a lone surrogate`
          : `must be at most ${MAX_KEY_BYTES} bytes in UTF-8, got ${Buffer.byteLength(key)}`;
  throw new DistCacheError(ErrorCode.INVALID_ARGUMENT, `key ${why}`);
}

/**
 * The bytes to store for a value: its codec's encoding, or for a keyspace
 * without a codec a private copy of the Uint8Array (so neither the caller
 * mutating it later nor a view into a larger buffer can change the store or
 * hide its real size). Throws ERR_INVALID_ARGUMENT for a value of the wrong type.
 */
export function toStoredBytes(value: unknown, codec: Codec<unknown> | undefined, keyspaceName: string): Uint8Array {
  if (codec === undefined) {
    if (value instanceof Uint8Array) return new Uint8Array(value);

    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `keyspace "${keyspaceName}" has no codec, so values must be Uint8Array, got ${describeValue(value)}; ` +
        'encode the value or give the keyspace a codec (jsonCodec, msgpackCodec)',
    );
  }
  let bytes: unknown;
  try {
    bytes = codec.encode(value);
  } catch (error) {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `keyspace "${keyspaceName}": codec ${codec.name} cannot encode ${describeValue(value)}`,
      { cause: error },
    );
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `keyspace "${keyspaceName}": codec ${codec.name} returned ${describeValue(bytes)} instead of a Uint8Array`,
    );
  }
  // A codec may hand out views of a reused buffer: keep a copy of our own.
  return new Uint8Array(bytes);
}

/**
 * Turns an expiry given as a Date, epoch ms or undefined (= use `ttl`) into
 * the store's form: epoch ms, or 0 for "never". Throws ERR_INVALID_ARGUMENT
 * for an invalid date.
 */
export function toExpiresAt(expiresAt: Date | number | undefined, ttl: number, now: number, what: string): number {
  if (expiresAt === undefined) return ttl > 0 ? now + ttl : 0;
  const ms = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new DistCacheError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} must be a valid Date or positive epoch milliseconds, got ${describeValue(expiresAt)}`,
    );
  }
  return ms;
}
