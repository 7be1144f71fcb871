import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `distcache` subcommand. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Runs the command; resolves the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A bad flag or value: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses flags with node:util parseArgs, each flag also readable from its
 * DISTCACHE_<FLAG> environment variable (flags win). Unknown flags and
 * positionals are usage errors.
 */
export function parseFlags<T extends Options>(argv: string[], options: T, env: NodeJS.ProcessEnv = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  for (const [flag, spec] of Object.entries(options)) {
    if (values[flag] !== undefined) continue;
    const fromEnv = env[`DISTCACHE_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (fromEnv === undefined || fromEnv === '') continue;
    values[flag] =
      spec.type === 'boolean'
        ? fromEnv !== '0' && fromEnv !== 'false'
        : spec.multiple
          ? fromEnv.split(',').map((part) => part.trim())
          : fromEnv;
  }
  return values as {
    [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string;
  } & { help?: boolean };
}

/** A non-negative integer flag, or a usage error naming it. */
export function integerFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return number;
}
