import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterNode, stopCluster, waitForAdmitted, waitForState } from '../helpers/cluster.js';
import { NetnsLab } from '../helpers/netns.js';

/**
 * Issue 15 §2: real network partitions. Each node runs in a network
 * namespace of its own (test/helpers/netns.ts), nodes 0-2 on one bridge and
 * 3-4 on another; `ip link set ... down` isolates one node or splits 3 | 2.
 * Needs root and iproute2 (npm run setup:test); fails without them.
 */

const PREFIX = 'dccons';
const SUBNET = '10.77.0';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keysOf = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const valuesOf = (keys: string[], prefix: string) => keys.map((key) => `${prefix}:${key}`);

async function putAll(node: ClusterNode, keys: string[], prefix: string): Promise<void> {
  await Promise.all(keys.map((key) => node.send({ cmd: 'put', key, value: `${prefix}:${key}` })));
}

/** Reads `keys` on `node`: every get must succeed (a value, not an error). */
async function readAll(node: ClusterNode, keys: string[]): Promise<(string | null)[]> {
  const values = await node.send<(string | null)[]>({ cmd: 'getMany', keys });
  const failed = values.filter((value) => value === null || value.startsWith('error:'));
  assert.deepEqual(failed, [], `${node.id} served every read`);
  return values;
}

/**
 * How long each side may take to see the other side dead. The majority's
 * suspicions are confirmed by its other members and end at the shortest
 * suspicion (2 s for 5 nodes). A cut-off node gets no confirmations, so each
 * suspicion runs to its longest (6 x 2 s), and its failed probes raise its
 * Lifeguard awareness until it probes one member per 8 x 0.5 s plus the
 * scaled probe timeout: up to 4 probes x 8 s + 12 s = 44 s for the last
 * member, by design, so a node on the wrong side of a cut accuses slowly.
 */
const MAJORITY_VIEW_MS = 15_000;
const MINORITY_VIEW_MS = 60_000;

/** Waits until every node of each group lists its group's members as alive and the others as dead. */
async function waitForViews(nodes: ClusterNode[], groups: { members: number[]; withinMs: number }[]): Promise<void> {
  const started = Date.now();
  for (const { members, withinMs } of groups) {
    for (const index of members) {
      for (const [other, node] of nodes.entries()) {
        if (other === index) continue;
        const left = Math.max(0, started + withinMs - Date.now());
        await waitForState(nodes[index]!, node.id, members.includes(other) ? ['alive'] : ['dead'], left);
      }
    }
  }
}

describe('network partitions between real processes in network namespaces', () => {
  let lab: NetnsLab;
  let nodes: ClusterNode[] = [];
  before(async () => {
    lab = await NetnsLab.create(PREFIX, SUBNET, [0, 0, 0, 1, 1]);
    const peers = [0, 1, 2, 3, 4].map((index) => `${lab.address(index)}:3322`);
    nodes = [0, 1, 2, 3, 4].map(
      (index) => new ClusterNode({ ip: lab.address(index), peers, netns: lab.namespace(index), replicaCount: 1 }),
    );
    await Promise.all(nodes.map((node) => node.started));
    await waitForAdmitted(nodes, 5, 20_000);
  });
  after(async () => {
    await stopCluster(nodes);
    await lab?.remove();
  });

  /**
   * One partition and its heal: before it, keys are written everywhere;
   * during it, each side serves reads, the majority side overwrites some keys,
   * and keys written on both sides are written later on one side than the
   * other; after it, membership converges within 10 s and every node reads
   * the majority's writes and, for keys written on both sides, the later write.
   */
  async function partitionAndHeal(name: string, cut: () => Promise<void>, minority: number[]): Promise<void> {
    const majority = [0, 1, 2, 3, 4].filter((index) => !minority.includes(index));
    const [m, n] = [nodes[majority[0]!]!, nodes[minority[0]!]!];
    const onMajority = keysOf(`${name}-majority`, 30);
    const minorityFirst = keysOf(`${name}-minority-first`, 30);
    const majorityFirst = keysOf(`${name}-majority-first`, 30);
    const all = [...onMajority, ...minorityFirst, ...majorityFirst];
    await putAll(m, all, 'before');
    for (const node of nodes) assert.deepEqual(await readAll(node, all), valuesOf(all, 'before'));

    await cut();
    try {
      await waitForViews(nodes, [
        { members: majority, withinMs: MAJORITY_VIEW_MS },
        { members: minority, withinMs: MINORITY_VIEW_MS },
      ]);
      for (const node of nodes) await readAll(node, all); // each side serves, loading where it lost the owner

      await putAll(m, onMajority, 'majority');
      await putAll(n, minorityFirst, 'minority');
      await putAll(m, majorityFirst, 'majority');
      await sleep(20); // a later write is a later version: the nodes share one clock here
      await putAll(m, minorityFirst, 'majority-later');
      await putAll(n, majorityFirst, 'minority-later');
    } catch (error) {
      await lab.heal(); // the next partition starts from a whole network
      throw error;
    }

    const healed = Date.now();
    await lab.heal();
    await waitForAdmitted(nodes, 5, 10_000);
    const convergedMs = Date.now() - healed;
    assert.ok(convergedMs <= 10_000, `membership converged ${convergedMs} ms after the heal`);
    const expected = [
      ...valuesOf(onMajority, 'majority'),
      ...valuesOf(minorityFirst, 'majority-later'),
      ...valuesOf(majorityFirst, 'minority-later'),
    ];
    for (const node of nodes) assert.deepEqual(await readAll(node, all), expected, `${node.id} after the heal`);
  }

  it('one node isolated: both sides serve, and after the heal every node reads the newest write of each key', async () => {
    await partitionAndHeal('isolated', () => lab.isolate(4), [4]);
  });

  it('split 3 | 2: both sides serve, and after the heal every node reads the newest write of each key', async () => {
    await partitionAndHeal('split', () => lab.split(), [3, 4]);
  });
});
