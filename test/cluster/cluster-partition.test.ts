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

/** Waits until every node lists the others in `view` as alive and those outside it as dead. */
async function waitForViews(nodes: ClusterNode[], groups: number[][]): Promise<void> {
  for (const group of groups) {
    for (const index of group) {
      for (const [other, node] of nodes.entries()) {
        if (other === index) continue;
        await waitForState(nodes[index]!, node.id, group.includes(other) ? ['alive'] : ['dead'], 15_000);
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
    await waitForViews(nodes, [majority, minority]);
    for (const node of nodes) await readAll(node, all); // each side serves, loading where it lost the owner

    await putAll(m, onMajority, 'majority');
    await putAll(n, minorityFirst, 'minority');
    await putAll(m, majorityFirst, 'majority');
    await sleep(20); // a later write is a later version: the nodes share one clock here
    await putAll(m, minorityFirst, 'majority-later');
    await putAll(n, majorityFirst, 'minority-later');

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
