/**
 * The cost of an idle node as the cluster grows (issue: scale): 3, 10 and 20
 * `distcache serve` processes (the compiled CLI, static peers, admin on, no
 * traffic) on this machine, measured in one run:
 *   - idle CPU per node: ms of CPU per second from /proc/<pid>/stat over a
 *     window after formation, against the 3-node cluster;
 *   - formation: from the moment the last node is listening until every node
 *     lists every node alive and admitted;
 *   - peer messages per write: puts through one node's distcache listener,
 *     counting the peer requests every node sent (its Prometheus metrics).
 *
 *   npm run bench:scale     (builds first; writes bench/results/scale.json)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseSessionAddress } from '../src/protocol/address.js';
import { DcClient } from '../src/protocol/client.js';
import { encodeAddRequest, Operation } from '../src/protocol/codec.js';
import { peerRequestsByType } from '../test/helpers/metrics.js';
import { report, row } from './harness.js';

const SIZES = [3, 10, 20] as const;
/** The nodes take 127.0.122.2, .3, ...; the range 127.0.120-129 belongs to this bench and the scale tests. */
const IP_PREFIX = '127.0.122';
const SESSION_PORT = 4433;
const ADMIN_PORT = 9464;
/** Time after formation before the idle window, so joins, warmups and first full-state exchanges are over. */
const SETTLE_MS = 10_000;
const IDLE_WINDOW_MS = 20_000;
const WRITES = 400;
const FORMATION_LIMIT_MS = 60_000;
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const main = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Node {
  readonly ip: string;
  readonly child: ChildProcess;
  readonly listening: Promise<number>;
}

interface SizeReport {
  readonly nodes: number;
  /** Mean over the nodes, ms of CPU per second. */
  readonly idleCpu: number;
  readonly idleCpuMax: number;
  readonly formationMs: number;
  readonly messagesPerWrite: number;
  readonly messagesByType: Record<string, number>;
}

function startNode(ip: string, peers: string[]): Node {
  const child = spawn(
    process.execPath,
    [
      main,
      'serve',
      '--listen',
      `IP:${ip}:${SESSION_PORT}`,
      '--bind-addr',
      ip,
      '--peers',
      peers.join(','),
      '--admin',
      `${ip}:${ADMIN_PORT}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const listening = new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('distcache serve: listening')) resolve(Date.now());
    });
    child.once('exit', (code) => reject(new Error(`node ${ip} exited with ${code} before listening`)));
  });
  listening.catch(() => undefined);
  return { ip, child, listening };
}

async function admin<T>(ip: string, path: string): Promise<T> {
  const response = await fetch(`http://${ip}:${ADMIN_PORT}/${path}`);
  return (path === 'metrics' ? response.text() : response.json()) as Promise<T>;
}

/** Resolves when every node lists `count` members alive and admitted, itself included. */
async function formed(nodes: Node[], count: number): Promise<number> {
  const deadline = Date.now() + FORMATION_LIMIT_MS;
  const done = new Set<string>();
  while (done.size < nodes.length) {
    if (Date.now() > deadline) throw new Error(`${count} nodes did not form within ${FORMATION_LIMIT_MS} ms`);
    await Promise.all(
      nodes
        .filter((node) => !done.has(node.ip))
        .map(async (node) => {
          const peers = await admin<{ state: string; admitted: boolean }[]>(node.ip, 'peers').catch(() => []);
          if (peers.filter((peer) => peer.state === 'alive' && peer.admitted).length === count) done.add(node.ip);
        }),
    );
    if (done.size < nodes.length) await sleep(50);
  }
  return Date.now();
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Peer requests a node has sent, by message type. */
async function peerRequests(ip: string): Promise<Map<string, number>> {
  return peerRequestsByType(await admin<string>(ip, 'metrics'));
}

async function allPeerRequests(nodes: Node[]): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const counts of await Promise.all(nodes.map((node) => peerRequests(node.ip))))
    for (const [type, count] of counts) total.set(type, (total.get(type) ?? 0) + count);
  return total;
}

async function stopAll(nodes: Node[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve();
          const kill = setTimeout(() => node.child.kill('SIGKILL'), 10_000);
          node.child.once('exit', () => (clearTimeout(kill), resolve()));
          node.child.kill('SIGTERM');
        }),
    ),
  );
}

async function measure(count: number): Promise<SizeReport> {
  const ips = Array.from({ length: count }, (_, i) => `${IP_PREFIX}.${i + 2}`);
  const peers = ips.map((ip) => `${ip}:3322`);
  const nodes = ips.map((ip) => startNode(ip, peers));
  try {
    const lastListening = Math.max(...(await Promise.all(nodes.map((node) => node.listening))));
    const formationMs = (await formed(nodes, count)) - lastListening;
    await sleep(SETTLE_MS);
    const before = nodes.map((node) => cpuMs(node.child.pid!));
    const started = performance.now();
    await sleep(IDLE_WINDOW_MS);
    const seconds = (performance.now() - started) / 1000;
    const perNode = nodes.map((node, i) => (cpuMs(node.child.pid!) - before[i]!) / seconds);

    const client = new DcClient(parseSessionAddress(`IP:${ips[0]}:${SESSION_PORT}`));
    await client.connected;
    const session = randomBytes(256);
    const requestsBefore = await allPeerRequests(nodes);
    for (let i = 0; i < WRITES; i++)
      await client.request(Operation.ADD, encodeAddRequest(600_000, randomBytes(32), session));
    client.close();
    const requestsAfter = await allPeerRequests(nodes);
    const messagesByType: Record<string, number> = {};
    let messages = 0;
    for (const [type, after] of requestsAfter) {
      const sent = after - (requestsBefore.get(type) ?? 0);
      if (sent === 0) continue;
      messagesByType[type] = sent / WRITES;
      messages += sent;
    }
    const report: SizeReport = {
      nodes: count,
      idleCpu: perNode.reduce((sum, value) => sum + value, 0) / count,
      idleCpuMax: Math.max(...perNode),
      formationMs,
      messagesPerWrite: messages / WRITES,
      messagesByType,
    };
    console.log(JSON.stringify(report));
    return report;
  } finally {
    await stopAll(nodes);
  }
}

const reports: SizeReport[] = [];
for (const count of SIZES) reports.push(await measure(count));
const [three, ten, twenty] = reports as [SizeReport, SizeReport, SizeReport];
const round = (value: number) => Math.round(value * 10) / 10;

report(
  'scale',
  [
    row('idle CPU per node, 20 nodes', twenty.idleCpu, '3 nodes', three.idleCpu, 'ms/s', { atMost: 1.5 }),
    row('idle CPU per node, 20 nodes', twenty.idleCpu, 'issue bound', 15, 'ms/s', { atMost: 1 }),
    row('idle CPU per node, 10 nodes', ten.idleCpu, '3 nodes', three.idleCpu, 'ms/s'),
    row(
      '20 nodes: every node lists all 20, after the last is listening',
      twenty.formationMs,
      'issue bound',
      10_000,
      'ms',
      {
        atMost: 1,
      },
    ),
    row('10 nodes: every node lists all 10', ten.formationMs, '3 nodes', three.formationMs, 'ms'),
    row('peer messages per write, 20 nodes', twenty.messagesPerWrite, '3 nodes', three.messagesPerWrite, 'msg', {
      atMost: 1.5,
    }),
    row('peer messages per write, 20 nodes', twenty.messagesPerWrite, '10 nodes', ten.messagesPerWrite, 'msg', {
      atMost: 1.2,
    }),
  ],
  [
    `${SIZES.join(', ')} \`distcache serve\` processes (compiled CLI) on ${IP_PREFIX}.x, static peers, admin on, no traffic; all on this 2-core machine`,
    `idle CPU: utime + stime from /proc/<pid>/stat over ${IDLE_WINDOW_MS / 1000} s, ${SETTLE_MS / 1000} s after every node listed every other; mean per node (max: ${reports.map((r) => `${r.nodes} nodes ${round(r.idleCpuMax)}`).join(', ')} ms/s)`,
    `formation: ${reports.map((r) => `${r.nodes} nodes ${round(r.formationMs / 1000)} s`).join(', ')}, from the last node's "listening" line until every node's /peers listed all, alive and admitted`,
    'a write sends a PUT to the owner unless the writer owns the key, and an INVALIDATE to the node ranked after the owner unless that is the writer (nobody read these keys): 4/3 messages expected at 3 nodes, 2 - 2/N at N',
    `writes: ${WRITES} ADDs of new 32-byte ids with 256-byte sessions through the first node's distcache listener, one at a time; peer requests per write by type: ${reports.map((r) => `${r.nodes} nodes ${JSON.stringify(r.messagesByType)}`).join('; ')}`,
  ],
  'scaling',
);
