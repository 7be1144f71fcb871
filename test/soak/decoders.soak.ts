/**
 * The long fuzz run: the peer codec and handshake, distcache protocol, NATS announcement and SWIM message decoder
 * properties with 1,000,000 cases each.
 *   npm run soak
 */
import { spawnSync } from 'node:child_process';

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    'test/fuzz/peer-codec.fuzz.test.ts',
    'test/fuzz/peer-handshake.fuzz.test.ts',
    'test/fuzz/protocol-codec.fuzz.test.ts',
    'test/fuzz/nats-announcement.fuzz.test.ts',
    'test/fuzz/swim-codec.fuzz.test.ts',
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, FUZZ_RUNS: process.env.FUZZ_RUNS ?? '1000000' },
  },
);
process.exitCode = result.status ?? 1;
