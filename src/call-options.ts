import { abortedError, describeValue, DistCacheError, ErrorCode } from './errors.js';

/** Options every engine call accepts. */
export interface CallOptions {
  /** Aborts this caller's wait with ERR_ABORTED; work shared with other callers goes on for them. */
  signal?: AbortSignal;
}

/** Options of `put`. */
export interface PutOptions extends CallOptions {
  /** Write only when the key holds no fresh value (checked and written in one step on the owner). */
  ifAbsent?: boolean;
}

const CALL_FIELDS: readonly string[] = ['signal'];
const PUT_FIELDS: readonly string[] = ['signal', 'ifAbsent'];

/**
 * Checks a call's options as the constructor checks the engine's: an object
 * of known fields, each of its type, else ERR_INVALID_ARGUMENT; then throws
 * ERR_ABORTED when its signal has fired. Costs nothing without options.
 */
export function checkCallOptions(options: CallOptions | undefined): void {
  if (options === undefined) return;
  checkFields(options, CALL_FIELDS);
  checkSignal(options.signal);
}

/** {@link checkCallOptions} for `put`, whose options also take `ifAbsent`. */
export function checkPutOptions(options: PutOptions | undefined): void {
  if (options === undefined) return;
  checkFields(options, PUT_FIELDS);
  const { ifAbsent } = options;
  if (ifAbsent !== undefined && typeof ifAbsent !== 'boolean')
    throw invalid(`options.ifAbsent must be a boolean, got ${describeValue(ifAbsent)}`);
  checkSignal(options.signal);
}

function checkFields(options: object, fields: readonly string[]): void {
  if (typeof options !== 'object' || options === null)
    throw invalid(`options must be an object { ${fields.join(', ')} }, got ${describeValue(options)}`);
  for (const field in options) {
    if (!fields.includes(field))
      throw invalid(`unknown option ${JSON.stringify(field)}; the options here are ${fields.join(', ')}`);
  }
}

function checkSignal(signal: unknown): void {
  if (signal === undefined) return;
  if (!(signal instanceof AbortSignal))
    throw invalid(`options.signal must be an AbortSignal, got ${describeValue(signal)}`);
  if (signal.aborted) throw abortedError(signal);
}

function invalid(message: string): DistCacheError {
  return new DistCacheError(ErrorCode.INVALID_ARGUMENT, message);
}
