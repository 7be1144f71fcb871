import { parseSessionAddress } from '../protocol/address.js';
import { runSessionTest } from '../protocol/session-tester.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';

const FLAGS = {
  connect: { type: 'string' },
  sessions: { type: 'string' },
  ops: { type: 'string' },
  persistent: { type: 'boolean' },
  datamin: { type: 'string' },
  datamax: { type: 'string' },
  timeout: { type: 'string' },
} as const;

const USAGE = `usage: distcache test --connect ADDR [options]

Like dc_test: random ADD/GET/REMOVE/HAVE checked against its own model;
exits 1 on any mismatch.

  --connect ADDR   the server or proxy: UNIX:/path, IP:port or IP:host:port
  --sessions N     distinct sessions (default 10)
  --ops N          operations (default 1000)
  --persistent     one connection for the run (default: one per request)
  --datamin N      smallest session in bytes, at least 4 (default 4)
  --datamax N      largest session in bytes, at most 32000 (default 4096)
  --timeout MS     ADD timeout in ms (default 600000)`;

export const sessionTestCommand: Command = {
  name: 'test',
  summary: 'check a server or proxy like dc_test',
  usage: USAGE,
  async run(argv) {
    const flags = parseFlags(argv, FLAGS);
    if (flags.connect === undefined) throw new UsageError('--connect is required');
    const address = parseSessionAddress(flags.connect);
    const dataMin = integerFlag('datamin', flags.datamin, 4, 4);
    const dataMax = integerFlag('datamax', flags.datamax, 4096, dataMin);
    if (dataMax > 32_000) throw new UsageError(`--datamax must be at most 32000, got ${dataMax}`);
    const ops = integerFlag('ops', flags.ops, 1000, 1);
    const progress = progressBar(ops);
    const report = await runSessionTest(
      {
        address,
        sessions: integerFlag('sessions', flags.sessions, 10, 1),
        ops,
        persistent: flags.persistent ?? false,
        dataMin,
        dataMax,
        timeoutMs: integerFlag('timeout', flags.timeout, 600_000, 1),
      },
      progress,
    );
    progress(ops);
    if (process.stderr.isTTY) process.stderr.write('\n');
    for (const mismatch of report.mismatches) process.stderr.write(`mismatch: ${mismatch}\n`);
    const rate = Math.round(report.ops / report.seconds);
    process.stdout.write(
      `${report.ops} ops in ${report.seconds.toFixed(2)} s: ${rate} ops/s, ${report.mismatches.length} mismatches\n`,
    );
    return report.mismatches.length === 0 ? 0 : 1;
  },
};

/** A progress bar on stderr when it is a terminal; nothing otherwise. */
function progressBar(total: number): (done: number) => void {
  if (!process.stderr.isTTY) return () => undefined;
  let shown = -1;
  return (done) => {
    const percent = Math.floor((done / total) * 100);
    if (percent === shown) return;
    shown = percent;
    const filled = Math.round(percent / 2.5);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(40 - filled)}] ${percent}%`);
  };
}
