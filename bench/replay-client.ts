/**
 * One Node client process of bench/session.ts's parallel rows: it connects,
 * prints "ready", waits for a line on stdin, replays dc_test's pattern
 * (bench/replay-pattern.ts) and prints its own CPU seconds over the replay.
 *
 *   node dist-bench/bench/replay-client.js IP:HOST:PORT OPS
 */
import { once } from 'node:events';
import { connectReplay, replay, replayRequests } from './replay-pattern.js';

const [address, ops] = process.argv.slice(2);
const requests = replayRequests(Number(ops));
const client = await connectReplay(address!);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
const before = process.cpuUsage();
await replay(client, requests);
const used = process.cpuUsage(before);
process.stdout.write(`done ${(used.user + used.system) / 1e6}\n`);
client.close();
process.stdin.destroy();
