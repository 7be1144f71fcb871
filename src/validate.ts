import { z } from 'zod';
import { DistCacheError, ErrorCode, describeValue } from './errors.js';
import type { Logger } from './logger.js';

/** Longest delay a Node timer takes; longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in ms a timer can wait: an integer in 1..MAX_TIMER_MS. */
export const timerMs = z.number().int().min(1).max(MAX_TIMER_MS);

/** A TCP or UDP port other than 0. */
export const portNumber = z.number().int().min(1).max(65_535);

/** A pino-compatible logger: debug, info, warn and error methods. */
export const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every(
      (level) => typeof (value as Record<string, unknown>)[level] === 'function',
    ),
  'must be a pino-compatible logger with debug, info, warn and error methods',
);

/**
 * Validates options with a zod schema at the edge; a failure throws
 * ERR_INVALID_CONFIG naming where, the field and the value, e.g.
 * `DnsDiscovery options.port: Too big: expected number to be <=65535, got 70000`.
 */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = innermostIssue(result.error.issues[0]!);
  const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
  // A rule across fields (a refine on the object) has the whole object as input: naming it says nothing.
  const acrossFields = issue.code === 'custom' && typeof issue.input === 'object' && issue.input !== null;
  const got = issue.code === 'unrecognized_keys' || acrossFields ? '' : `, got ${describeValue(issue.input)}`;
  throw new DistCacheError(ErrorCode.INVALID_CONFIG, `${where}${path}: ${issue.message}${got}`, {
    cause: result.error,
  });
}

/**
 * For "object or false" options zod reports a bare "invalid input" at the
 * union; the object branch's own issue says what is wrong, so use that.
 */
function innermostIssue(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const inner = issue.errors.find((branch) => branch.length > 0 && branch[0]!.code !== 'invalid_value')?.[0];
  return inner === undefined ? issue : innermostIssue({ ...inner, path: [...issue.path, ...inner.path] });
}
