#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ErrorCode, isDistCacheError } from '../errors.js';
import { UsageError, type Command } from './command.js';
import { proxyCommand } from './proxy.js';
import { serveCommand } from './serve.js';
import { sessionTestCommand } from './session-test.js';
import { snoopCommand } from './snoop.js';

const COMMANDS: readonly Command[] = [serveCommand, proxyCommand, snoopCommand, sessionTestCommand];

const USAGE = `usage: distcache <command> [options]

commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(8)} ${command.summary}`).join('\n')}

  distcache <command> --help   shows a command's options
  distcache --version          prints the version`;

/** The package's version, from the nearest package.json above this file (src/ or dist/src/). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'distcache') return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    fail(
      'distcache',
      ErrorCode.INVALID_ARGUMENT,
      `unknown command ${JSON.stringify(name)}; distcache --help lists them`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  const who = `distcache ${command.name}`;
  const crash = (error: unknown): void => {
    fail(who, 'ERR_INTERNAL', (error as Error)?.message ?? String(error));
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      fail(who, ErrorCode.INVALID_ARGUMENT, `${error.message}; ${who} --help lists the options`);
      return 2;
    }
    if (isDistCacheError(error)) {
      fail(who, error.code, error.message);
      return 1;
    }
    throw error;
  }
}

/**
 * Reports a failure as one line, `distcache <command>: <code>: <message>`, so
 * a supervisor's log shows it whole (messages from dependencies may span lines).
 */
function fail(who: string, code: string, message: string): void {
  process.stderr.write(`${who}: ${code}: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    fail('distcache', 'ERR_INTERNAL', (error as Error)?.message ?? String(error));
    process.exitCode = 1;
  },
);
