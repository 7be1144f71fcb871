import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { KubernetesDiscovery, type KubernetesDiscoveryOptions } from '../../discovery/kubernetes.js';
import { ErrorCode } from '../../src/index.js';
import { throwsWithCode } from '../helpers/assert-code.js';
import { eventually, recordingContext } from '../helpers/discovery.js';
import { KubeApiServer, podJson } from '../helpers/kube-api.js';

describe('KubernetesDiscovery: the real client against an API server on loopback', () => {
  let api: KubeApiServer;
  let dir: string;
  let kubeConfig: string;
  let discovery: KubernetesDiscovery | undefined;
  const start = async (options: Partial<KubernetesDiscoveryOptions> = {}) => {
    const context = recordingContext();
    discovery = new KubernetesDiscovery({
      kubeConfig,
      namespace: 'cache',
      labelSelector: 'app=distcache',
      retryInterval: 100,
      ...options,
    });
    await discovery.start(context);
    return { discovery, context };
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'distcache-kube-'));
  });
  beforeEach(async () => {
    await discovery?.stop();
    await api?.close();
    api = new KubeApiServer();
    await api.listen();
    kubeConfig = await api.writeKubeconfig(path.join(dir, 'kubeconfig'), 'sa-token');
  });
  after(async () => {
    await discovery?.stop();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists only Running and Ready pods, at their IP and named discovery port, with the bearer token', async () => {
    api.upsert(podJson('cache-0', '10.1.0.10', { port: 4000 }));
    api.upsert(podJson('cache-1', '10.1.0.11', { ready: false }));
    api.upsert(podJson('cache-2', '10.1.0.12', { phase: 'Pending', ready: false }));
    api.upsert(podJson('cache-3', '10.1.0.13', { portName: 'metrics', port: 9090 }));
    const { discovery } = await start();
    assert.deepEqual((await discovery.addresses()).sort(), ['10.1.0.10:4000', '10.1.0.13:3322']);
    const list = api.requests.find((request) => request.query.get('watch') === null)!;
    assert.equal(list.query.get('labelSelector'), 'app=distcache');
    assert.equal(list.authorization, 'Bearer sa-token');
  });

  it('follows pods going Ready, NotReady and deleted through the watch, and tells the engine', async () => {
    api.upsert(podJson('cache-0', '10.2.0.10'));
    api.upsert(podJson('cache-1', '10.2.0.11', { ready: false }));
    const { discovery, context } = await start();
    assert.deepEqual(await discovery.addresses(), ['10.2.0.10:3322']);
    api.upsert(podJson('cache-1', '10.2.0.11'));
    await eventually(async () => (await discovery.addresses()).length === 2);
    api.upsert(podJson('cache-0', '10.2.0.10', { ready: false }));
    await eventually(async () => (await discovery.addresses()).join() === '10.2.0.11:3322');
    api.remove('cache-1');
    await eventually(async () => (await discovery.addresses()).length === 0);
    assert.ok(context.changes >= 3);
  });

  it('after a dropped watch, watches again from the last resourceVersion without relisting', async () => {
    api.upsert(podJson('cache-0', '10.3.0.10'));
    const { discovery } = await start();
    api.upsert(podJson('cache-1', '10.3.0.11'));
    await eventually(async () => (await discovery.addresses()).length === 2);
    const lastSeen = api.requests.filter((request) => request.query.get('watch') === 'true').length;
    api.dropWatches();
    api.upsert(podJson('cache-2', '10.3.0.12'));
    await eventually(async () => (await discovery.addresses()).length === 3);
    const resumed = api.requests.filter((request) => request.query.get('watch') === 'true').slice(lastSeen);
    assert.ok(resumed.length >= 1);
    assert.ok(
      Number(resumed[0]!.query.get('resourceVersion')) >= 102,
      `resumed from ${resumed[0]!.query.get('resourceVersion')}`,
    );
    assert.equal(api.requests.filter((request) => request.query.get('watch') === null).length, 1, 'no relist');
  });

  it('relists on 410 Gone, dropping pods deleted while the watch was away', async () => {
    api.upsert(podJson('cache-0', '10.4.0.10'));
    api.upsert(podJson('cache-1', '10.4.0.11'));
    const { discovery } = await start();
    assert.equal((await discovery.addresses()).length, 2);
    api.dropWatches();
    api.remove('cache-0');
    api.upsert(podJson('cache-2', '10.4.0.12'));
    api.compact();
    await eventually(async () => (await discovery.addresses()).sort().join() === '10.4.0.11:3322,10.4.0.12:3322');
    assert.equal(api.requests.filter((request) => request.query.get('watch') === null).length, 2, 'listed again');
  });

  it('ignores malformed events and pods with missing fields: no crash, no bogus peer', async () => {
    const { discovery } = await start();
    for (const line of [
      'garbage',
      '{}',
      '{"type":"ADDED"}',
      '{"type":"ADDED","object":null}',
      '{"type":"ADDED","object":{"metadata":{"name":"x"}}}',
      '{"type":"MODIFIED","object":{"metadata":{"name":"y"},"status":{"phase":"Running","conditions":"nope","podIP":7}}}',
    ]) {
      api.sendRaw(line);
    }
    const broken = podJson('cache-9', 'not-an-ip');
    api.upsert(broken);
    api.upsert({ ...podJson('cache-8', '10.5.0.18'), spec: { containers: 'none' } });
    api.upsert(podJson('cache-7', '10.5.0.17'));
    await eventually(async () => (await discovery.addresses()).includes('10.5.0.17:3322'));
    assert.deepEqual((await discovery.addresses()).sort(), ['10.5.0.17:3322', '10.5.0.18:3322']);
  });

  it('an API server that is down is logged and retried, never thrown', async () => {
    await api.close();
    const { discovery, context } = await start();
    assert.deepEqual(await discovery.addresses(), []);
    await eventually(async () => context.logged.some((line) => line.level === 'warn'));
  });

  it('refuses bad options with ERR_INVALID_CONFIG', () => {
    const bad: unknown[] = [
      { kubeConfig },
      { kubeConfig, labelSelector: '' },
      { kubeConfig, labelSelector: 'a=b', port: 70_000 },
      { kubeConfig, labelSelector: 'a=b', namespace: 'Bad_NS' },
      { kubeConfig: path.join(dir, 'missing'), labelSelector: 'a=b' },
      { labelSelector: 'a=b' },
    ];
    for (const options of bad)
      throwsWithCode(() => new KubernetesDiscovery(options as KubernetesDiscoveryOptions), ErrorCode.INVALID_CONFIG);
  });
});
