import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { NodeConfig } from '../helpers/cluster-node.js';
import { ClusterNode, stopCluster, waitForAdmitted } from '../helpers/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { startNatsServer } from '../helpers/nats-server.js';

type AliveView = { admitted: boolean; state: string; id: string }[];

async function aliveIds(node: ClusterNode): Promise<string[]> {
  const view = await node.send<AliveView>({ cmd: 'peers' });
  return view
    .filter((peer) => peer.admitted && peer.state === 'alive')
    .map((peer) => peer.id)
    .sort();
}

describe('a cluster that finds itself through DNS (real dnsmasq)', () => {
  const nodes: ClusterNode[] = [];
  let dns: Dnsmasq | undefined;
  after(async () => {
    await stopCluster(nodes);
    await dns?.close();
  });

  it('a node added to DNS joins; a node removed from DNS leaves placement once it stops', async () => {
    const ips = ['127.0.61.2', '127.0.61.3', '127.0.61.4'];
    dns = await startDnsmasq(ips.map((ip) => `${ip} cache.test`));
    const config = (ip: string): NodeConfig => ({
      ip,
      peers: [],
      discovery: { dns: { name: 'cache.test', servers: [dns!.server] } },
    });
    nodes.push(...ips.map((ip) => new ClusterNode(config(ip))));
    await Promise.all(nodes.map((node) => node.started));
    await waitForAdmitted(nodes, 3);
    assert.deepEqual(await nodes[0]!.send({ cmd: 'getMany', keys: ['a', 'b'] }), ['v:a', 'v:b']);

    await dns.setHosts([...ips, '127.0.61.5'].map((ip) => `${ip} cache.test`));
    const added = new ClusterNode(config('127.0.61.5'));
    nodes.push(added);
    await added.started;
    await waitForAdmitted(nodes, 4);

    await dns.setHosts(['127.0.61.2', '127.0.61.4', '127.0.61.5'].map((ip) => `${ip} cache.test`));
    const removed = nodes.splice(1, 1)[0]!;
    await removed.send({ cmd: 'stop' });
    await removed.exited();
    await waitForAdmitted(nodes, 3);
    assert.deepEqual(await aliveIds(nodes[0]!), ['127.0.61.2:3320', '127.0.61.4:3320', '127.0.61.5:3320']);
  });
});

describe('a cluster that finds itself through NATS (real nats-server)', () => {
  const nodes: ClusterNode[] = [];
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  after(async () => {
    await stopCluster(nodes);
    await nats?.stop();
  });

  it('a NATS outage loses no member, and a node started during it joins after it', async () => {
    nats = await startNatsServer();
    const config = (ip: string): NodeConfig => ({
      ip,
      peers: [],
      discovery: { nats: { servers: nats!.url, reconnectInterval: 200 } },
    });
    nodes.push(...['127.0.62.2', '127.0.62.3', '127.0.62.4'].map((ip) => new ClusterNode(config(ip))));
    await Promise.all(nodes.map((node) => node.started));
    await waitForAdmitted(nodes, 3);

    await nats.stop();
    const late = new ClusterNode(config('127.0.62.5'));
    nodes.push(late);
    await late.started;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const node of nodes.slice(0, 3))
      assert.equal((await aliveIds(node)).length, 3, 'no member lost while NATS is down');
    assert.deepEqual(await aliveIds(late), ['127.0.62.5:3320'], 'the late node is alone until NATS is back');

    await nats.start();
    await waitForAdmitted(nodes, 4, 20_000);
  });
});
