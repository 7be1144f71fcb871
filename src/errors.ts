/**
 * The stable error codes of distcache. Codes are part of the public API:
 * new ones may be added, existing ones are never renamed.
 */
export const ErrorCode = {
  /** An option passed to the engine or a keyspace is invalid. */
  INVALID_CONFIG: 'ERR_INVALID_CONFIG',
  /** The engine is not running: `start()` was not awaited, or `stop()` was called. */
  ENGINE_NOT_STARTED: 'ERR_ENGINE_NOT_STARTED',
  /** No keyspace of that name is defined. */
  KEYSPACE_NOT_FOUND: 'ERR_KEYSPACE_NOT_FOUND',
  /** The keyspace's circuit breaker is open: the data source was not called. */
  DATASOURCE_CIRCUIT_OPEN: 'ERR_DATASOURCE_CIRCUIT_OPEN',
  /** The keyspace's rate limiter had no slot within `waitTimeout`: the data source was not called. */
  DATASOURCE_RATE_LIMITED: 'ERR_DATASOURCE_RATE_LIMITED',
  /** The data source threw, rejected or returned a value of the wrong type; the original error is `cause`. */
  DATASOURCE_FAILED: 'ERR_DATASOURCE_FAILED',
  /** The operation did not finish within its timeout. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The caller's AbortSignal fired; `cause` is the signal's reason. */
  ABORTED: 'ERR_ABORTED',
  /** Fewer than `minimumPeersQuorum` members were seen within the bootstrap timeout. */
  CLUSTER_QUORUM: 'ERR_CLUSTER_QUORUM',
  /** No node that could serve the key answered. */
  PEER_UNAVAILABLE: 'ERR_PEER_UNAVAILABLE',
  /** A peer or client sent bytes that break the wire protocol. */
  PROTOCOL: 'ERR_PROTOCOL',
  /** An argument of a call (key, value, ttl, ...) is invalid. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** Admin API: the endpoint needs the admin bearer token. */
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  /** Admin API: no such endpoint. */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** The keyspace is in use and cannot be deleted: the session listener serves it (empty it instead). */
  KEYSPACE_IN_USE: 'ERR_KEYSPACE_IN_USE',
  /** Admin API: the endpoint exists but not with that HTTP method. */
  METHOD_NOT_ALLOWED: 'ERR_METHOD_NOT_ALLOWED',
  /** An optional peer dependency that a feature needs (a discovery provider's client) is not installed. */
  MISSING_DEPENDENCY: 'ERR_MISSING_DEPENDENCY',
  /** Admin API: the request carried a body; the admin API takes none (HTTP 413, and the connection is closed). */
  CONTENT_TOO_LARGE: 'ERR_CONTENT_TOO_LARGE',
} as const;

/** One of the stable error code strings, e.g. `'ERR_TIMEOUT'`. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error class distcache throws. Branch on `code`, never on `message`:
 * messages say what to change and may be reworded, codes never change.
 */
export class DistCacheError extends Error {
  /** A stable code from {@link ErrorCode}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistCacheError';
    this.code = code;
  }
}

/** True when `error` is a {@link DistCacheError}, optionally with the given code. */
export function isDistCacheError(error: unknown, code?: ErrorCode): error is DistCacheError {
  return error instanceof DistCacheError && (code === undefined || error.code === code);
}

/** The error a call rejects with when its AbortSignal fires. */
export function abortedError(signal: AbortSignal): DistCacheError {
  return new DistCacheError(ErrorCode.ABORTED, 'the operation was aborted by its AbortSignal', {
    cause: signal.reason,
  });
}

/** Renders any value for an error message: short, one line, never throws. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength})`;
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
