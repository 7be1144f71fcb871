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

/** The default logger: pino at `info`, JSON lines on stdout. Nothing is logged per cache hit. */
export function defaultLogger(): Logger {
  return pino({ name: 'distcache', level: 'info' });
}
