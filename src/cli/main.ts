#!/usr/bin/env node
import { readFileSync } from 'node:fs';

/** The `distcache` command. Subcommands (serve, proxy, snoop, test) are added by the protocol module. */
const USAGE = `usage: distcache <command> [options]

commands:
  --help       show this help
  --version    print the version

distcache is a library first: import { Engine } from 'distcache'.`;

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

function main(argv: string[]): number {
  const [command] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  process.stderr.write(`distcache: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
