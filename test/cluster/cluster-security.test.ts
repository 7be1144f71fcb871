import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { StaticDiscovery } from '../../discovery/static.js';
import { peerSecurity } from '../../src/cluster/peer-channel.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import { MessageType } from '../../src/cluster/peer-codec.js';
import type { PeerTlsOptions } from '../../src/cluster/peer-server.js';
import { Engine, ErrorCode } from '../../src/index.js';
import { rejectsWithCode } from '../helpers/assert-code.js';
import { TestCa, type CertFiles } from '../helpers/certs.js';
import { ClusterNode, startCluster, stopCluster, waitForAdmitted } from '../helpers/cluster.js';
import { silentLogger, sleep } from '../helpers/engine.js';

const GOOD_KEY = 'the-right-cluster-key-0123456789';
const WRONG_KEY = 'a-wrong-cluster-key-9876543210xx';

async function admittedCount(node: ClusterNode): Promise<number> {
  const peers = await node.send<{ admitted: boolean; state: string }[]>({ cmd: 'peers' });
  return peers.filter((peer) => peer.admitted && peer.state === 'alive').length;
}

/** One GET over the peer port, as a stranger with this key and TLS material would send it. */
function peerGet(address: string, clusterKey: string | undefined, tls?: PeerTlsOptions) {
  const client = new PeerClient(address, peerSecurity(clusterKey, tls));
  return client.request({ type: MessageType.GET, keyspace: 'ks', key: 'secret' }, 2_000).finally(() => client.close());
}

const tlsOf = (files: CertFiles, ca?: string): { key: string; cert: string; ca?: string } => ({
  key: files.key,
  cert: files.cert,
  ...(ca ? { ca } : {}),
});
const loadTls = (files: { key: string; cert: string; ca?: string }): PeerTlsOptions => ({
  key: readFileSync(files.key),
  cert: readFileSync(files.cert),
  ...(files.ca ? { ca: readFileSync(files.ca) } : {}),
});

describe('cluster admission', () => {
  it('start() rejects with ERR_CLUSTER_QUORUM after bootstrapTimeout when too few members answer', async () => {
    const engine = new Engine({
      logger: silentLogger,
      bindAddr: '127.0.24.2',
      discovery: new StaticDiscovery({ peers: ['127.0.24.2:3322', '127.0.24.3:3322'] }),
      minimumPeersQuorum: 2,
      bootstrapTimeout: 1_500,
      joinRetryInterval: 200,
      keyspaces: [{ name: 'ks', maxBytes: 1024 }],
    });
    const started = Date.now();
    const error = await rejectsWithCode(engine.start(), ErrorCode.CLUSTER_QUORUM);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1_500 && elapsed < 5_000, `failed after ${elapsed} ms`);
    assert.match(error.message, /only 1 of the 2 members/);
    await rejectsWithCode(engine.get('ks', 'a'), ErrorCode.ENGINE_NOT_STARTED);
  });

  it('a node with another cluster key can neither join nor read', async () => {
    const nodes = await startCluster('127.0.25', 2, { clusterKey: GOOD_KEY });
    const stranger = new ClusterNode({
      ip: '127.0.25.9',
      peers: ['127.0.25.2:3322', '127.0.25.3:3322'],
      clusterKey: WRONG_KEY,
    });
    try {
      await stranger.started;
      await sleep(3_000);
      assert.deepEqual(await Promise.all([...nodes, stranger].map(admittedCount)), [2, 2, 1]);
      await rejectsWithCode(peerGet(nodes[0]!.id, WRONG_KEY), ErrorCode.PEER_UNAVAILABLE);
      await rejectsWithCode(peerGet(nodes[0]!.id, undefined), ErrorCode.PEER_UNAVAILABLE);
      const reply = await peerGet(nodes[0]!.id, GOOD_KEY);
      assert.equal(reply.type, MessageType.VALUE, 'the same request with the right key is served');
    } finally {
      await stopCluster([...nodes, stranger]);
    }
  });

  it('with mutual TLS, a node without a certificate from the cluster CA can neither join nor read', async () => {
    const ca = new TestCa('cluster');
    const rogueCa = new TestCa('rogue');
    const ips = ['127.0.26.2', '127.0.26.3'];
    const nodes = await startCluster('127.0.26', 2, {
      tls: tlsOf(ca.issue('node', [...ips, '127.0.26.9']), ca.ca.cert),
    });
    const stranger = new ClusterNode({
      ip: '127.0.26.9',
      peers: ips.map((ip) => `${ip}:3322`),
      tls: tlsOf(rogueCa.issue('rogue', ['127.0.26.9']), rogueCa.ca.cert),
    });
    try {
      await stranger.started;
      await sleep(3_000);
      assert.deepEqual(await Promise.all([...nodes, stranger].map(admittedCount)), [2, 2, 1]);
      const rogue = loadTls(tlsOf(rogueCa.issue('client', ['127.0.0.1'])));
      await rejectsWithCode(peerGet(nodes[0]!.id, undefined, rogue), ErrorCode.PEER_UNAVAILABLE);
      const noClientCert = { ca: readFileSync(ca.ca.cert) } as PeerTlsOptions; // trusts the server, has no certificate of its own
      await rejectsWithCode(peerGet(nodes[0]!.id, undefined, noClientCert), ErrorCode.PEER_UNAVAILABLE);
      const member = loadTls(tlsOf(ca.issue('member', ['127.0.0.1']), ca.ca.cert));
      assert.equal(
        (await peerGet(nodes[0]!.id, undefined, member)).type,
        MessageType.VALUE,
        'a certificate from the cluster CA is served',
      );
      await waitForAdmitted(nodes, 2);
    } finally {
      await stopCluster([...nodes, stranger]);
    }
  });
});
