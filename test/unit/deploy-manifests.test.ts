import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubernetesDiscovery } from '../../discovery/kubernetes.js';
import { serveOptions } from '../../src/cli/serve.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents of many shapes
type Doc = Record<string, any>;
const manifests = ['rbac.yaml', 'service.yaml', 'statefulset.yaml'].flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(`../../deploy/kubernetes/${file}`, import.meta.url), 'utf8')).map(
    (doc) => doc.toJSON() as Doc,
  ),
);
const find = (kind: string): Doc => manifests.find((doc) => doc.kind === kind)!;

describe('deploy/kubernetes manifests', () => {
  const statefulSet = find('StatefulSet');
  const container = statefulSet.spec.template.spec.containers[0];
  const flag = (name: string): string =>
    container.args.find((arg: string) => arg.startsWith(`--${name}=`))!.slice(name.length + 3);

  it('give the pods a Role that can only list and watch pods', () => {
    assert.deepEqual(find('Role').rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
    assert.equal(find('RoleBinding').roleRef.name, find('Role').metadata.name);
    assert.equal(find('RoleBinding').subjects[0].name, find('ServiceAccount').metadata.name);
    assert.equal(statefulSet.spec.template.spec.serviceAccountName, find('ServiceAccount').metadata.name);
  });

  it('select the pods by the labels they carry, and name the discovery port KubernetesDiscovery looks for', () => {
    const [labelKey, labelValue] = flag('kubernetes').split('=');
    assert.equal(statefulSet.spec.template.metadata.labels[labelKey!], labelValue);
    assert.deepEqual(statefulSet.spec.selector.matchLabels, statefulSet.spec.template.metadata.labels);
    const ports = Object.fromEntries(container.ports.map((port: Doc) => [port.name, port.containerPort]));
    assert.equal(ports.discovery, 3322);
    assert.equal(ports.peer, 3320);
    assert.equal(ports.sessions, Number(flag('listen').split(':').at(-1)));
    assert.equal(ports.admin, Number(flag('admin').split(':').at(-1)));
    assert.equal(find('Service').spec.clusterIP, 'None');
  });

  it('probe readiness and liveness on the admin endpoints', () => {
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/ready', port: 'admin' });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/health', port: 'admin' });
  });

  it('pass distcache serve arguments it accepts, discovering through Kubernetes', async () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const options = await serveOptions(container.args.slice(1), {
        DISTCACHE_CLUSTER_KEY: 'a-cluster-key-of-32-characters!!',
      });
      assert.equal(container.args[0], 'serve');
      assert.ok(options.discovery instanceof KubernetesDiscovery);
      assert.equal(options.replicaCount, 2);
      assert.equal(options.admin?.listen, '0.0.0.0:9464');
      assert.equal(options.clusterKey, 'a-cluster-key-of-32-characters!!');
    } finally {
      if (saved === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved;
      delete process.env.KUBERNETES_SERVICE_PORT;
    }
  });
});
