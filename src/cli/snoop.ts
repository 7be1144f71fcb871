import { parseSessionAddress } from '../protocol/address.js';
import { SessionSnoop } from '../protocol/snoop.js';
import { parseFlags, UsageError, type Command } from './command.js';
import { untilSignal } from './signals.js';

const FLAGS = { listen: { type: 'string' }, server: { type: 'string' } } as const;

const USAGE = `usage: distcache snoop --listen ADDR --server ADDR

Like dc_snoop: a transparent proxy that prints every frame it forwards,
decoded, one line each.`;

export const snoopCommand: Command = {
  name: 'snoop',
  summary: 'transparent proxy printing every frame, like dc_snoop',
  usage: USAGE,
  async run(argv) {
    const flags = parseFlags(argv, FLAGS);
    if (flags.listen === undefined || flags.server === undefined)
      throw new UsageError('--listen and --server are required');
    const snoop = new SessionSnoop(parseSessionAddress(flags.listen), parseSessionAddress(flags.server), (line) =>
      process.stdout.write(`${line}\n`),
    );
    // Listen for the signals before saying so: a supervisor may send SIGTERM as soon as it reads the line.
    const signalled = untilSignal();
    await snoop.start();
    process.stdout.write(`distcache snoop: listening on ${snoop.address()}, server ${flags.server}\n`);
    await signalled;
    await snoop.stop();
    return 0;
  },
};
