import { pino } from 'pino';
import { parseSessionAddress } from '../protocol/address.js';
import { SessionProxy } from '../protocol/proxy.js';
import { integerFlag, parseFlags, UsageError, type Command } from './command.js';
import { untilSignal } from './signals.js';

const FLAGS = { listen: { type: 'string' }, server: { type: 'string' }, retry: { type: 'string' } } as const;

const USAGE = `usage: distcache proxy --listen ADDR --server ADDR [--retry MS]

Like dc_client: a local proxy holding one persistent connection to the
server, multiplexing its clients; while the server is unreachable it
answers DISCONNECTED itself and reconnects every --retry ms (default 5000).`;

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'local multiplexing proxy, like dc_client',
  usage: USAGE,
  async run(argv) {
    const flags = parseFlags(argv, FLAGS);
    if (flags.listen === undefined || flags.server === undefined)
      throw new UsageError('--listen and --server are required');
    const proxy = new SessionProxy(
      parseSessionAddress(flags.listen),
      parseSessionAddress(flags.server),
      { retryMs: integerFlag('retry', flags.retry, 5_000, 1) },
      pino({ name: 'distcache-proxy' }),
    );
    // Listen for the signals before saying so: a supervisor may send SIGTERM as soon as it reads the line.
    const signalled = untilSignal();
    await proxy.start();
    process.stdout.write(`distcache proxy: listening on ${proxy.address()}, server ${flags.server}\n`);
    await signalled;
    await proxy.stop();
    return 0;
  },
};
