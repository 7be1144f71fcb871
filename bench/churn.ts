/**
 * Rolling restart under load (issue 15 §3): 5 nodes restarted one at a
 * time (SIGTERM, a new process, admitted by every node) while a client
 * node runs gets and puts, replicaCount 2, no hot copies. Records failed
 * gets, lost acknowledged writes, data-source calls for the hot keys over
 * the rollout, the rollout's length and each restart's stop and admission.
 *
 *   npm run bench:churn     (writes bench/results/churn.json)
 */
import { rollingRestart } from '../test/helpers/rolling-restart.js';
import { report, row } from './harness.js';

// Nodes run the compiled JavaScript (npm run bench:churn compiles it first), as users run distcache.
process.env.DISTCACHE_NODE_SCRIPT ??= new URL('../dist-bench/test/helpers/cluster-node.js', import.meta.url).pathname;

const SERVERS = 5;
const HOT_KEYS = 2_000;
const WRITTEN_KEYS = 200;

const result = await rollingRestart({
  ipPrefix: '127.0.141',
  servers: SERVERS,
  hotKeys: HOT_KEYS,
  writtenKeys: WRITTEN_KEYS,
  concurrency: 16,
  putShare: 0.1,
});

const admitted = result.restarts.map((restart) => restart.admittedMs).sort((a, b) => a - b);
const stopped = result.restarts.map((restart) => restart.stopMs).sort((a, b) => a - b);
const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)]!;
/** Reads of written keys checked after the rollout: each written key on every node. */
const checked = result.writtenKeys * (SERVERS + 1);
const restartsSummed = result.restarts.reduce((sum, restart) => sum + restart.stopMs + restart.admittedMs, 0);

report(
  'churn',
  [
    row('failed gets during the rollout', result.failedGets.length, 'gets served', result.gets, 'gets', { atMost: 0 }),
    row(
      'acknowledged writes lost (read after the rollout on every node)',
      result.lostWrites.length,
      'written keys × nodes checked',
      checked,
      'reads',
      { atMost: 0 },
    ),
    row('data-source calls for hot keys during the rollout', result.hotKeyLoads, 'hot keys', result.hotKeys, 'calls', {
      atMost: 0.1,
    }),
    row(
      'gets older than an acknowledged put, during the rollout',
      result.staleReads.length,
      'gets served',
      result.gets,
      'gets',
    ),
    row(
      'rollout: first SIGTERM to last node admitted',
      result.rolloutMs,
      'the restarts alone (stop + admission, summed)',
      restartsSummed,
      'ms',
    ),
    row('restart: start to admitted by every node (median)', median(admitted), 'slowest', admitted.at(-1)!, 'ms'),
    row('stop: SIGTERM to exit, handoff included (median)', median(stopped), 'slowest', stopped.at(-1)!, 'ms'),
  ],
  [
    `${SERVERS} server nodes and 1 client node (a member that is not restarted) on 127.0.141.x, replicaCount 2, hot cache off`,
    `the client ran 16 loops: 90% gets (half over ${HOT_KEYS} hot keys, half over ${WRITTEN_KEYS} written keys), 10% puts of a sequence number per written key; ${result.gets} gets and ${result.puts} puts in all, ${result.failedPuts} puts failed`,
    'each restart: SIGTERM (the node hands its entries to their next owners, then leaves), a new process on the same address, then every node admits it; the next restart follows at once',
    `per restart, start to admitted: ${result.restarts.map((restart) => restart.admittedMs).join(', ')} ms; SIGTERM to exit: ${result.restarts.map((restart) => restart.stopMs).join(', ')} ms`,
  ],
);
