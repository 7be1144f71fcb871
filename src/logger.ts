import { pino } from 'pino';

/** A log method in pino's shape: structured fields first, then the message. */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** What distcache logs through; any pino logger (or a compatible one) fits. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/**
 * The default logger: pino, JSON lines on stdout. At `warn` for an engine
 * embedded in an application, whose stdout is its own: only what needs a
 * look (a peer refused, discovery failing) is written. `distcache serve`
 * runs at `info`, as a server logs its lifecycle. Nothing is logged per
 * cache hit.
 */
export function defaultLogger(level: 'info' | 'warn' = 'warn'): Logger {
  return pino({ name: 'distcache', level });
}
