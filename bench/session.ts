/**
 * Session listener speed against the reference C `dc_server` (issue 16 §1),
 * all in one run, contenders alternating, best of 3 rounds each:
 *
 * - 1 `dc_test -persistent` client, then 8 in parallel: serve's ops/s against dc_server's;
 * - the floor for 8 clients: a minimal Node session server (bench/minimal-session-server.ts,
 *   a Map and the framing) against dc_server, and serve against it;
 * - serve's own CPU per op against a bare Node server's CPU per round trip
 *   (bench/echo-server.ts, one fixed answer per request) under the same
 *   client pattern (one connection, one request at a time, dc_test's mix);
 * - RSS with 10,000 sessions of 1 KB: serve against dc_server plus an empty Node process;
 * - a 3-node cluster against 3 serves sharing nothing, with 1 and 32 clients spread over the three.
 *
 * The C tools come from the folder in DISTCACHE_C_TOOLS; without them the
 * rows against dc_server are left out (and the JSON says so).
 *
 *   DISTCACHE_C_TOOLS=/path/to/distcache-c npm run bench:session   (writes bench/results/session.json)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { SERVE_V8_FLAGS } from '../src/cli/serve.js';
import { parseSessionAddress } from '../src/protocol/address.js';
import { DcClient } from '../src/protocol/client.js';
import { encodeAddRequest, Operation, Status } from '../src/protocol/codec.js';
import { locateCTools, type CTools } from '../test/helpers/c-tools.js';
import { ClusterNode, waitForAdmitted } from '../test/helpers/cluster.js';
import { seededRandom } from '../test/helpers/random.js';
import { report, row, type BenchRow } from './harness.js';
import { cpuSeconds, endedChildrenCpuSeconds, rssBytes } from './process-stats.js';
import { connectReplay, replay, replayRequests } from './replay-pattern.js';

// Nodes run the compiled JavaScript (npm run bench:session compiles it first), as users run distcache.
const compiled = (path: string) => new URL(`../dist-bench/${path}`, import.meta.url).pathname;
process.env.DISTCACHE_NODE_SCRIPT ??= compiled('test/helpers/cluster-node.js');

const ROUNDS = 3;
/** dc_test's load, as issue 16 gives it; sessions under 5 bytes and of 4069-4072 bytes trip dc_test 1.5 itself. */
const DC_TEST_OPS = 20_000;
const DC_TEST_ARGS = [
  '-sessions',
  '50',
  '-datamin',
  '5',
  '-datamax',
  '3990',
  '-ops',
  String(DC_TEST_OPS),
  '-persistent',
];
const PARALLEL_CLIENTS = 8;
const RSS_SESSIONS = 10_000;
const CLUSTER_TRIAL_MS = 4_000;
/** Every serve's session capacity: large enough that nothing a run adds is evicted. */
const MAX_BYTES = 64 << 20;
const PORT = 4300;
const ip = (last: number) => `127.0.122.${last}`;
const at = (last: number) => `IP:${ip(last)}:${PORT}`;
/** The minimal Node session server (the 8-client floor). */
const FLOOR_IP = '127.0.155.13';
const FLOOR_AT = `IP:${FLOOR_IP}:${PORT}`;

/**
 * Where one client and its server run: on this VM a wakeup across cores costs
 * far more than one on the same core (dc_server answers dc_test 3-4x faster
 * when both share a core), so where the scheduler happens to put them would
 * decide the 1-client rows. They are pinned apart: the server on the last
 * core, the client on the first. Rows with several clients run unpinned.
 */
const ALL_CORES = `0-${availableParallelism() - 1}`;
const SERVER_CORE = String(availableParallelism() - 1);
const CLIENT_CORE = '0';
const canPin = spawnSync('taskset', ['-V']).status === 0;

/** Sets the cores every thread of process `pid` may run on (no-op without taskset). */
function pin(pid: number, cores: string): void {
  if (canPin) spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

/** One round of one contender: its rate, the server's CPU per op, and whether the client saw a wrong answer. */
interface Round {
  readonly opsPerSecond: number;
  /** Seconds of the server's CPU per op. */
  readonly cpuPerOp: number;
  /** Seconds of all the clients' CPU per op, where measured. */
  readonly clientCpuPerOp?: number;
  /** Seconds the round lasted. */
  readonly seconds?: number;
  readonly failure?: string;
}

function tools(): { tools?: CTools; note: string } {
  try {
    const found = locateCTools();
    return { tools: found, note: 'C tools from the folder in DISTCACHE_C_TOOLS' };
  } catch (error) {
    return {
      note: `C tools absent (${(error as Error).message}): the rows against dc_server are not measured`,
    };
  }
}

async function waitForListener(address: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const client = new DcClient(parseSessionAddress(address));
    try {
      await client.connected;
      client.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${address} never listened`);
}

const children: ChildProcess[] = [];

async function startProcess(command: string, args: string[], address?: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  if (address !== undefined) await waitForListener(address);
  return child;
}

function startServe(address: string): Promise<ChildProcess> {
  const args = [compiled('src/cli/main.js'), 'serve', '--listen', address, '--max-bytes', String(MAX_BYTES)];
  return startProcess(process.execPath, args, address);
}

function startDcServer(found: CTools, address: string): Promise<ChildProcess> {
  return startProcess(found.dcServer, ['-listen', address, '-sessions', String(2 * RSS_SESSIONS)], address);
}

/** `clients` dc_test runs at once against `address`, with the seed shim so that each uses its own session ids. */
async function dcTestRound(found: CTools, address: string, clients: number, server: ChildProcess): Promise<Round> {
  const pinned = clients === 1 && canPin;
  pin(server.pid!, pinned ? SERVER_CORE : ALL_CORES);
  const cpuBefore = cpuSeconds(server.pid!);
  const clientCpuBefore = endedChildrenCpuSeconds();
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: clients }, () => {
      const dcTest = [found.dcTest, '-connect', address, ...DC_TEST_ARGS];
      const [command, ...args] = pinned ? ['taskset', '-c', CLIENT_CORE, ...dcTest] : dcTest;
      const child = spawn(command!, args, {
        env: { ...process.env, LD_PRELOAD: found.seedShim },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      return new Promise<string | undefined>((resolve) =>
        child.once('close', (code) =>
          resolve(code === 0 ? undefined : (output.trim().split('\n').pop() ?? `exit ${code}`)),
        ),
      );
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const ops = clients * DC_TEST_OPS;
  const failure = outcomes.find((outcome) => outcome !== undefined);
  return {
    opsPerSecond: ops / seconds,
    cpuPerOp: (cpuSeconds(server.pid!) - cpuBefore) / ops,
    clientCpuPerOp: (endedChildrenCpuSeconds() - clientCpuBefore) / ops,
    seconds,
    ...(failure === undefined ? {} : { failure }),
  };
}

/** dc_test's pattern for the in-process Node client (bench/replay-pattern.ts). */
const requests = replayRequests(DC_TEST_OPS);

async function replayRound(address: string, server: ChildProcess): Promise<Round> {
  const client = await connectReplay(address);
  pin(server.pid!, SERVER_CORE);
  pin(process.pid, CLIENT_CORE);
  const cpuBefore = cpuSeconds(server.pid!);
  const started = performance.now();
  await replay(client, requests);
  const seconds = (performance.now() - started) / 1000;
  const cpuPerOp = (cpuSeconds(server.pid!) - cpuBefore) / requests.length;
  pin(process.pid, ALL_CORES);
  pin(server.pid!, ALL_CORES);
  client.close();
  return { opsPerSecond: requests.length / seconds, cpuPerOp };
}

/** The next line `child` prints, once it prints one. */
function nextLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('\n')) return;
      child.stdout!.off('data', onData);
      child.off('close', onClose);
      resolve(text.slice(0, text.indexOf('\n')));
    };
    const onClose = (code: number | null) => reject(new Error(`replay client ended (exit ${code}) before answering`));
    child.stdout!.on('data', onData);
    child.once('close', onClose);
  });
}

/**
 * `clients` Node client processes (bench/replay-client.ts), each replaying
 * dc_test's pattern on its own connection, unpinned: the wall time runs from
 * the moment all are connected until the last one is done.
 */
async function nodeClientsRound(address: string, clients: number, server: ChildProcess): Promise<Round> {
  const processes = Array.from({ length: clients }, () =>
    spawn(process.execPath, [compiled('bench/replay-client.js'), address, String(DC_TEST_OPS)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const ended = processes.map((child) => once(child, 'close'));
  try {
    await Promise.all(processes.map(nextLine));
    pin(server.pid!, ALL_CORES);
    const cpuBefore = cpuSeconds(server.pid!);
    const started = performance.now();
    const done = processes.map(nextLine);
    for (const child of processes) child.stdin!.write('go\n');
    const lines = await Promise.all(done);
    const seconds = (performance.now() - started) / 1000;
    const ops = clients * DC_TEST_OPS;
    const clientCpu = lines.reduce((sum, line) => sum + Number(line.split(' ')[1]), 0);
    return {
      opsPerSecond: ops / seconds,
      cpuPerOp: (cpuSeconds(server.pid!) - cpuBefore) / ops,
      clientCpuPerOp: clientCpu / ops,
      seconds,
    };
  } finally {
    for (const child of processes) child.kill('SIGKILL');
    await Promise.all(ended);
  }
}

/** The cluster rows' load: 1 KB sessions over 2,000 ids, 50% GET, 30% ADD, 10% REMOVE, 10% HAVE. */
const clusterIds = Array.from({ length: 2_000 }, () => randomBytes(32));
const clusterSession = randomBytes(1024);

/**
 * `clients` persistent connections spread over `addresses`, one request at a
 * time each, for a trial. With 1 client, the servers (`pids`) run on the
 * server core and this process on the client core, as in the other 1-client rows.
 */
async function clusterRound(addresses: string[], clients: number, pids: number[]): Promise<Round> {
  const pinned = clients === 1 && canPin;
  if (pinned) {
    for (const pid of pids) pin(pid, SERVER_CORE);
    pin(process.pid, CLIENT_CORE);
  }
  try {
    return await clusterTrial(addresses, clients);
  } finally {
    if (pinned) for (const pid of [...pids, process.pid]) pin(pid, ALL_CORES);
  }
}

async function clusterTrial(addresses: string[], clients: number): Promise<Round> {
  const connections = Array.from(
    { length: clients },
    (_, i) => new DcClient(parseSessionAddress(addresses[i % addresses.length]!)),
  );
  await Promise.all(connections.map((client) => client.connected));
  let ops = 0;
  const started = performance.now();
  await Promise.all(
    connections.map(async (client, worker) => {
      const next = seededRandom(worker + 1);
      while (performance.now() - started < CLUSTER_TRIAL_MS) {
        const id = clusterIds[Math.floor(next() * clusterIds.length)]!;
        const dice = Math.floor(next() * 10);
        if (dice < 5) await client.request(Operation.GET, id);
        else if (dice < 8) await client.request(Operation.ADD, encodeAddRequest(600_000, id, clusterSession));
        else await client.request(dice === 8 ? Operation.REMOVE : Operation.HAVE, id);
        ops++;
      }
    }),
  );
  const opsPerSecond = ops / ((performance.now() - started) / 1000);
  for (const client of connections) client.close();
  return { opsPerSecond, cpuPerOp: Number.NaN };
}

/** A 3-node cluster on `ips` whose session listeners keep every session on every node, with `replication` (default: the listener's keyspace). */
function startSessionCluster(ips: string[], replication: 'async' | undefined): ClusterNode[] {
  // The nodes run the test node script, not serve: they get serve's V8 settings on their command line, as the apart serves have them.
  process.env.DISTCACHE_TEST_NODE_ARGS = SERVE_V8_FLAGS;
  return ips.map(
    (each) =>
      new ClusterNode({
        ip: each,
        peers: ips.map((peer) => `${peer}:3322`),
        sessionListen: [`IP:${each}:${PORT}`],
        sessionMaxBytes: MAX_BYTES,
        replicaCount: ips.length,
        ...(replication === undefined ? {} : { replication }),
      }),
  );
}

/** Adds 3 ids in 4, the share present at the cluster mix's steady state, so the first trial starts where later ones run. */
async function prefill(address: string): Promise<void> {
  const client = new DcClient(parseSessionAddress(address));
  await client.connected;
  const next = seededRandom(0);
  for (const id of clusterIds)
    if (next() < 0.75) await client.request(Operation.ADD, encodeAddRequest(600_000, id, clusterSession));
  client.close();
}

/** RSS (bytes) of the server at `address` once it holds 10,000 sessions of 1 KB (added 16 at a time). */
async function rssWithSessions(address: string, server: ChildProcess): Promise<number> {
  const client = new DcClient(parseSessionAddress(address));
  await client.connected;
  const session = randomBytes(1024);
  for (let first = 0; first < RSS_SESSIONS; first += 16) {
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        client.request(Operation.ADD, encodeAddRequest(600_000, Buffer.from(`rss-session-${first + i}`), session)),
      ),
    );
    if (answers.some((answer) => answer.data[0] !== Status.OK)) throw new Error(`${address} did not store a session`);
  }
  client.close();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  return rssBytes(server.pid!);
}

/** Runs every contender once a round, alternating, and keeps each one's rounds. */
async function alternate(contenders: Record<string, () => Promise<Round>>): Promise<Record<string, Round[]>> {
  const rounds: Record<string, Round[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const result = await run();
      (rounds[name] ??= []).push(result);
      const cpu = Number.isNaN(result.cpuPerOp) ? '' : `, ${(result.cpuPerOp * 1e6).toFixed(1)} µs CPU/op`;
      console.log(
        `round ${round + 1} ${name}: ${Math.round(result.opsPerSecond)} ops/s${cpu}${result.failure ? ` FAILED: ${result.failure}` : ''}`,
      );
    }
  }
  return rounds;
}

const passed = (rounds: Round[]) => rounds.filter((round) => round.failure === undefined);
const bestRate = (rounds: Round[]) => Math.max(...passed(rounds).map((round) => round.opsPerSecond));
const bestCpuMicros = (rounds: Round[]) => Math.min(...passed(rounds).map((round) => round.cpuPerOp)) * 1e6;
/** The round with the highest rate among those that passed. */
const fastest = (rounds: Round[]) =>
  passed(rounds).reduce((best, round) => (round.opsPerSecond > best.opsPerSecond ? round : best));
const megabytes = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10;

/**
 * What the minimal Node session server's row says about the 8-client goal:
 * whether 0.8x dc_server is within Node's reach on this machine at all.
 */
function floorNote(rounds: Record<string, Round[]>): string {
  const clients = `${PARALLEL_CLIENTS} clients`;
  const floorRatio = bestRate(rounds[`minimal, ${clients}`]!) / bestRate(rounds[`dc_server, ${clients}`]!);
  const serveRatio = bestRate(rounds[`serve, ${clients}`]!) / bestRate(rounds[`dc_server, ${clients}`]!);
  const verdict =
    floorRatio >= 0.8
      ? `0.8x dc_server is within Node's reach here: serve stands at ${serveRatio.toFixed(3)}x, ${(serveRatio / floorRatio).toFixed(3)}x of the floor`
      : `even this floor stays under 0.8x dc_server on this machine, so the goal of 0.8x with ${PARALLEL_CLIENTS} dc_test clients is out of Node's reach here (serve stands at ${(serveRatio / floorRatio).toFixed(3)}x of the floor)`;
  return `minimal Node session server (bench/minimal-session-server.ts): the least a Node process does to pass dc_test, a Map from session id to its bytes and expiry and the wire framing, one write per answer, no bounds, no backpressure, no metrics; with ${clients} it reaches ${floorRatio.toFixed(3)}x dc_server (server CPU ${(fastest(rounds[`minimal, ${clients}`]!).cpuPerOp * 1e6).toFixed(1)} µs per op in its fastest round): ${verdict}`;
}

const { tools: found, note: toolsNote } = tools();
console.log(toolsNote);
try {
  const serve = await startServe(at(2));
  const echo = await startProcess(process.execPath, [compiled('bench/echo-server.js'), ip(12), String(PORT)], at(12));
  const dcServer = found && (await startDcServer(found, at(9)));
  const floor =
    found &&
    (await startProcess(
      process.execPath,
      [compiled('bench/minimal-session-server.js'), FLOOR_IP, String(PORT)],
      FLOOR_AT,
    ));
  const apart = await Promise.all([6, 7, 8].map((last) => startServe(at(last))));
  // The goal rows' cluster replicates sessions asynchronously; the reference cluster as configured by default (sync).
  const clusterIps = [3, 4, 5].map(ip);
  const syncClusterIps = [13, 14, 15].map(ip);
  const nodes = [...startSessionCluster(clusterIps, 'async'), ...startSessionCluster(syncClusterIps, undefined)];
  try {
    await Promise.all(nodes.map((node) => node.started));
    await waitForAdmitted(nodes.slice(0, 3), clusterIps.length);
    await waitForAdmitted(nodes.slice(3), syncClusterIps.length);
    const clustered = clusterIps.map((each) => `IP:${each}:${PORT}`);
    const syncClustered = syncClusterIps.map((each) => `IP:${each}:${PORT}`);
    const apartAddresses = [6, 7, 8].map(at);
    const clusterPids = nodes.slice(0, 3).map((node) => node.pid);
    const syncClusterPids = nodes.slice(3).map((node) => node.pid);
    const apartPids = apart.map((child) => child.pid!);
    // One prefill per store: each cluster's nodes share theirs, the apart serves each hold their own.
    for (const address of [clustered[0]!, syncClustered[0]!, ...apartAddresses]) await prefill(address);

    const contenders: Record<string, () => Promise<Round>> = {
      ...(found && dcServer
        ? {
            'dc_server, 1 client': () => dcTestRound(found, at(9), 1, dcServer),
            'serve, 1 client': () => dcTestRound(found, at(2), 1, serve),
          }
        : {}),
      'echo, replayed pattern': () => replayRound(at(12), echo),
      'serve, replayed pattern': () => replayRound(at(2), serve),
      ...(found && dcServer
        ? {
            'dc_server, 8 clients': () => dcTestRound(found, at(9), PARALLEL_CLIENTS, dcServer),
            'serve, 8 clients': () => dcTestRound(found, at(2), PARALLEL_CLIENTS, serve),
            'minimal, 8 clients': () => dcTestRound(found, FLOOR_AT, PARALLEL_CLIENTS, floor!),
            'dc_server, 8 Node clients': () => nodeClientsRound(at(9), PARALLEL_CLIENTS, dcServer),
          }
        : {}),
      'echo, 8 Node clients': () => nodeClientsRound(at(12), PARALLEL_CLIENTS, echo),
      'serve, 8 Node clients': () => nodeClientsRound(at(2), PARALLEL_CLIENTS, serve),
      'cluster, 1 client': () => clusterRound(clustered, 1, clusterPids),
      'apart, 1 client': () => clusterRound(apartAddresses, 1, apartPids),
      'sync cluster, 1 client': () => clusterRound(syncClustered, 1, syncClusterPids),
      'cluster, 32 clients': () => clusterRound(clustered, 32, clusterPids),
      'apart, 32 clients': () => clusterRound(apartAddresses, 32, apartPids),
      'sync cluster, 32 clients': () => clusterRound(syncClustered, 32, syncClusterPids),
    };
    const rounds = await alternate(contenders);

    // Memory: fresh processes, filled the same way.
    const emptyNode = await startProcess(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const emptyNodeRss = rssBytes(emptyNode.pid!);
    const rssServe = await startServe(at(10));
    const serveRss = await rssWithSessions(at(10), rssServe);
    const dcServerRss = found && (await rssWithSessions(at(11), await startDcServer(found, at(11))));

    const rows: BenchRow[] = [];
    const failures = Object.entries(rounds).flatMap(([name, each]) =>
      each.filter((round) => round.failure !== undefined).map((round) => `${name}: ${round.failure}`),
    );
    if (found) {
      rows.push(
        row(
          'serve, 1 dc_test client (persistent)',
          bestRate(rounds['serve, 1 client']!),
          'dc_server',
          bestRate(rounds['dc_server, 1 client']!),
          'ops/s',
          { atLeast: 0.8 },
        ),
        row(
          "serve's CPU per op, 1 dc_test client",
          bestCpuMicros(rounds['serve, 1 client']!),
          'bare Node server, per round trip',
          bestCpuMicros(rounds['echo, replayed pattern']!),
          'µs',
          { atMost: 1.5 },
        ),
      );
    }
    rows.push(
      row(
        "serve's CPU per op, dc_test's pattern from a Node client",
        bestCpuMicros(rounds['serve, replayed pattern']!),
        'bare Node server, per round trip',
        bestCpuMicros(rounds['echo, replayed pattern']!),
        'µs',
        found ? null : { atMost: 1.5 },
      ),
    );
    if (found) {
      rows.push(
        row(
          `serve, ${PARALLEL_CLIENTS} parallel dc_test clients`,
          bestRate(rounds[`serve, ${PARALLEL_CLIENTS} clients`]!),
          'dc_server',
          bestRate(rounds[`dc_server, ${PARALLEL_CLIENTS} clients`]!),
          'ops/s',
          { atLeast: 0.8 },
        ),
        row(
          `minimal Node session server, ${PARALLEL_CLIENTS} parallel dc_test clients`,
          bestRate(rounds[`minimal, ${PARALLEL_CLIENTS} clients`]!),
          'dc_server',
          bestRate(rounds[`dc_server, ${PARALLEL_CLIENTS} clients`]!),
          'ops/s',
        ),
        row(
          `serve, ${PARALLEL_CLIENTS} parallel dc_test clients`,
          bestRate(rounds[`serve, ${PARALLEL_CLIENTS} clients`]!),
          'minimal Node session server',
          bestRate(rounds[`minimal, ${PARALLEL_CLIENTS} clients`]!),
          'ops/s',
        ),
        row(
          `bare Node server, ${PARALLEL_CLIENTS} parallel Node clients (dc_test's pattern)`,
          bestRate(rounds[`echo, ${PARALLEL_CLIENTS} Node clients`]!),
          'dc_server',
          bestRate(rounds[`dc_server, ${PARALLEL_CLIENTS} Node clients`]!),
          'ops/s',
        ),
        row(
          `serve, ${PARALLEL_CLIENTS} parallel Node clients (dc_test's pattern)`,
          bestRate(rounds[`serve, ${PARALLEL_CLIENTS} Node clients`]!),
          'dc_server',
          bestRate(rounds[`dc_server, ${PARALLEL_CLIENTS} Node clients`]!),
          'ops/s',
        ),
      );
    }
    rows.push(
      row(
        `serve, ${PARALLEL_CLIENTS} parallel Node clients (dc_test's pattern)`,
        bestRate(rounds[`serve, ${PARALLEL_CLIENTS} Node clients`]!),
        'bare Node server',
        bestRate(rounds[`echo, ${PARALLEL_CLIENTS} Node clients`]!),
        'ops/s',
      ),
    );
    if (found) {
      rows.push(
        row(
          `serve's RSS with ${RSS_SESSIONS.toLocaleString('en-US')} sessions of 1 KB`,
          megabytes(serveRss),
          'dc_server + an empty Node process',
          megabytes(dcServerRss! + emptyNodeRss),
          'MB',
          { atMost: 3 },
        ),
      );
    } else {
      rows.push(
        row(
          `serve's RSS with ${RSS_SESSIONS.toLocaleString('en-US')} sessions of 1 KB`,
          megabytes(serveRss),
          'an empty Node process',
          megabytes(emptyNodeRss),
          'MB',
        ),
      );
    }
    for (const clients of [1, 32]) {
      const label = clients === 1 ? '1 client' : `${clients} clients`;
      rows.push(
        row(
          `3-node cluster, ${label}`,
          bestRate(rounds[`cluster, ${label}`]!),
          '3 serves sharing nothing',
          bestRate(rounds[`apart, ${label}`]!),
          'ops/s',
          { atLeast: 0.9 },
        ),
        row(
          `3-node cluster, replication sync, ${label}`,
          bestRate(rounds[`sync cluster, ${label}`]!),
          '3 serves sharing nothing',
          bestRate(rounds[`apart, ${label}`]!),
          'ops/s',
        ),
      );
    }
    const cpu = (name: string) => `${bestCpuMicros(rounds[name]!).toFixed(1)} µs`;
    const parallelNames = [
      ...(found
        ? [
            `dc_server, ${PARALLEL_CLIENTS} clients`,
            `serve, ${PARALLEL_CLIENTS} clients`,
            `minimal, ${PARALLEL_CLIENTS} clients`,
          ]
        : []),
      ...(found ? [`dc_server, ${PARALLEL_CLIENTS} Node clients`] : []),
      `echo, ${PARALLEL_CLIENTS} Node clients`,
      `serve, ${PARALLEL_CLIENTS} Node clients`,
    ];
    const loads = parallelNames.map((name) => {
      const best = fastest(rounds[name]!);
      const busy = ((best.cpuPerOp + best.clientCpuPerOp!) * best.opsPerSecond) / availableParallelism();
      return `${name}: server ${(best.cpuPerOp * 1e6).toFixed(1)} µs, clients ${(best.clientCpuPerOp! * 1e6).toFixed(1)} µs, cores busy ${Math.round(busy * 100)}%`;
    });
    report('session', rows, [
      toolsNote,
      `dc_test ${DC_TEST_ARGS.join(' ')}; ${PARALLEL_CLIENTS} parallel clients each run that with LD_PRELOAD=libdcseed.so (their own session ids); ops/s = ops / wall time until the last client ends; best of ${ROUNDS} alternating rounds`,
      `CPU per op: the server process's CPU time (all threads, /proc/PID/task/*/schedstat) over the round / its ops, best of ${ROUNDS}${found ? `; dc_server: ${cpu('dc_server, 1 client')} per op, serve under 8 clients: ${cpu(`serve, ${PARALLEL_CLIENTS} clients`)}` : ''}`,
      `bare Node server (bench/echo-server.ts): answers each whole request with one fixed 15-byte response; dc_test cannot drive it (it checks answers), so a Node client sends it dc_test's pattern: ${DC_TEST_OPS} requests on one connection, one at a time, the four operations alike, over 50 ids of 1-64 bytes, ADDs of 5-3990 bytes; the same client against serve gives the row "dc_test's pattern from a Node client"`,
      ...(found ? [floorNote(rounds)] : []),
      `${PARALLEL_CLIENTS} parallel Node clients: ${PARALLEL_CLIENTS} processes of bench/replay-client.ts, each the Node client above with its own ids, unpinned; ops/s = ops / wall time from all connected until the last is done; the same load against dc_server, the bare Node server and serve, alternating, best of ${ROUNDS}`,
      `CPU per op (user + system) in the fastest round of each ${PARALLEL_CLIENTS}-client contender, server and all clients (dc_test: /proc/self/stat cutime+cstime, 10 ms; Node clients: process.cpuUsage over the replay), and the share of the ${availableParallelism()} cores they kept busy: ${loads.join('; ')}`,
      `RSS: /proc VmRSS 1 s after ${RSS_SESSIONS} ADDs of 1024-byte sessions (16 in flight) to a fresh server; serve ${megabytes(serveRss)} MB, ${found ? `dc_server ${megabytes(dcServerRss!)} MB, ` : ''}empty Node (node -e setInterval) ${megabytes(emptyNodeRss)} MB`,
      `cluster rows: 1 KB sessions over ${clusterIds.length} ids; 50% GET, 30% ADD, 10% REMOVE, 10% HAVE from Node clients in the bench process, one request at a time each, spread over the 3 nodes; ${CLUSTER_TRIAL_MS / 1000} s trials, best of ${ROUNDS}; the cluster keeps every session on all 3 nodes (replicaCount 3, replica reads); the "3-node cluster" rows define the session keyspace with replication 'async' (an ADD or REMOVE resolves once the node it reached holds it, the other two get the copy in the background), the "replication sync" rows are a second 3-node cluster with the listener's default keyspace (replication 'sync': every copy written before the answer), alternating with the others; "3 serves sharing nothing" are 3 standalone serves, prefilled alike; ${canPin ? `in the 1-client cluster and apart rows every server of the row runs on core ${SERVER_CORE} and the bench process on core ${CLIENT_CORE}` : 'nothing is pinned'}`,
      `the machine has ${availableParallelism()} cores for the clients and every server process; ${canPin ? `1-client rows (dc_test and the Node client) run the server on core ${SERVER_CORE} and the client on core ${CLIENT_CORE} (taskset: a wakeup across cores costs far more than one on the same core here, and the scheduler's choice would decide those rows); the others run unpinned` : 'taskset is absent: nothing is pinned, so the 1-client rows vary with where the scheduler puts client and server'}`,
      failures.length === 0
        ? 'every dc_test run passed'
        : `dc_test runs that failed (not counted): ${failures.join('; ')}`,
    ]);
  } finally {
    await Promise.all(nodes.map((node) => node.kill()));
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
}
