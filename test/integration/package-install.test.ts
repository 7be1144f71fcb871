/**
 * The package as users meet it: packed with `npm pack`, installed from the
 * tarball into an empty project (its dependencies from the npm registry), and
 * run there with plain node, first without the optional peer dependencies,
 * then with them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import semver from 'semver';
import { KubeApiServer, podJson } from '../helpers/kube-api.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { packRepository, repositoryManifest, TempProject } from '../helpers/packed-install.js';

/** The budget for `npm i distcache` alone. */
const MAX_INSTALL_BYTES = 80 * 2 ** 20;
const KUBERNETES = '@kubernetes/client-node';
const NATS = '@nats-io/transport-node';

/** Imports each provider and constructs it; prints what failed, at which stage, with which code. */
const TRY_PROVIDERS = `
const attempts = {
  kubernetes: ['distcache/discovery/kubernetes', (m) => new m.KubernetesDiscovery({ labelSelector: 'app=distcache', kubeConfig: process.env.KUBECONFIG_FILE })],
  nats: ['distcache/discovery/nats', (m) => new m.NatsDiscovery({ servers: 'nats://127.0.0.1:4222' })],
};
const result = {};
for (const [name, [specifier, construct]] of Object.entries(attempts)) {
  let stage = 'import';
  try {
    const module = await import(specifier);
    stage = 'construct';
    construct(module);
    result[name] = { stage: 'ok' };
  } catch (error) {
    result[name] = { stage, code: error.code, message: error.message };
  }
}
console.log(JSON.stringify(result));
`;

/** Runs both providers for real: NATS through a nats-server, Kubernetes against an API server on loopback. */
const RUN_PROVIDERS = `
import { KubernetesDiscovery } from 'distcache/discovery/kubernetes';
import { NatsDiscovery } from 'distcache/discovery/nats';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const context = (self) => ({ self, logger: quiet, changed() {} });
const until = async (check) => {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
};
const kubernetes = new KubernetesDiscovery({ labelSelector: 'app=distcache', namespace: 'cache', kubeConfig: process.env.KUBECONFIG_FILE });
await kubernetes.start(context('10.9.0.1:3322'));
await until(async () => (await kubernetes.addresses()).length > 0);
const [a, b] = ['10.8.0.1:3322', '10.8.0.2:3322'].map(() => new NatsDiscovery({ servers: process.env.NATS_URL }));
await a.start(context('10.8.0.1:3322'));
await b.start(context('10.8.0.2:3322'));
await until(async () => (await a.addresses()).length > 0);
console.log(JSON.stringify({ kubernetes: await kubernetes.addresses(), nats: await a.addresses() }));
await Promise.all([kubernetes.stop(), a.stop(), b.stop()]);
`;

describe('the packed package, installed into an empty project', () => {
  let work: string;
  let project: TempProject;
  let manifest: Awaited<ReturnType<typeof repositoryManifest>>;
  let api: KubeApiServer;
  let kubeconfig: string;

  const serve = (flag: string, value: string) =>
    project.node(
      ['node_modules/distcache/dist/src/cli/main.js', 'serve', '--listen', 'IP:127.0.150.1:7001', flag, value],
      {
        KUBERNETES_SERVICE_HOST: '',
      },
    );
  const engineViolations = async () => {
    const violations: string[] = [];
    for (const { name, version, node } of await project.installedEngines()) {
      if (node !== undefined && !semver.subset(manifest.engines.node, node))
        violations.push(`${name}@${version} wants node ${node}`);
    }
    return violations;
  };

  before(async () => {
    manifest = await repositoryManifest();
    work = await mkdtemp(path.join(tmpdir(), 'distcache-pack-'));
    project = await TempProject.create('install');
    await project.install(await packRepository(work));
    api = new KubeApiServer();
    await api.listen();
    kubeconfig = await api.writeKubeconfig(path.join(work, 'kubeconfig'), 'token');
    api.upsert(podJson('cache-0', '10.1.0.10'));
    await writeFile(path.join(project.dir, 'try-providers.mjs'), TRY_PROVIDERS);
    await writeFile(path.join(project.dir, 'run-providers.mjs'), RUN_PROVIDERS);
  });
  after(async () => {
    await api?.close();
    await project?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs in at most 80 MB, without the Kubernetes and NATS clients', async () => {
    const size = await project.size();
    assert.ok(
      size.diskBytes <= MAX_INSTALL_BYTES,
      `node_modules takes ${(size.diskBytes / 2 ** 20).toFixed(1)} MB on disk (${size.packages} packages)`,
    );
    const names = (await project.installedEngines()).map(({ name }) => name);
    assert.deepEqual(
      names.filter((name) => name === KUBERNETES || name === NATS),
      [],
    );
  });

  it('without the clients, the providers import, and constructing one throws ERR_MISSING_DEPENDENCY with the install command', async () => {
    const { code, stdout, stderr } = await project.node(['try-providers.mjs'], { KUBECONFIG_FILE: kubeconfig });
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as Record<string, { stage: string; code?: string; message?: string }>;
    for (const [name, pkg] of [
      ['kubernetes', KUBERNETES],
      ['nats', NATS],
    ] as const) {
      assert.equal(result[name]!.stage, 'construct', `${name}: ${JSON.stringify(result[name])}`);
      assert.equal(result[name]!.code, 'ERR_MISSING_DEPENDENCY');
      assert.ok(
        result[name]!.message!.includes(`npm install ${pkg}@${manifest.peerDependencies[pkg]}`),
        result[name]!.message,
      );
    }
  });

  it('without the clients, distcache serve --kubernetes and --nats say so in one line and exit 1', async () => {
    for (const [flag, value, pkg] of [
      ['--kubernetes', 'app=distcache', KUBERNETES],
      ['--nats', 'nats://127.0.0.1:4222', NATS],
    ] as const) {
      const { code, stderr } = await serve(flag, value);
      assert.equal(code, 1, stderr);
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^distcache serve: ERR_MISSING_DEPENDENCY: /);
      assert.ok(lines[0]!.includes(`npm install ${pkg}@${manifest.peerDependencies[pkg]}`), lines[0]);
    }
  });

  it("declares the Node versions every installed package accepts, from the dependencies' own lowest", async () => {
    assert.deepEqual(await engineViolations(), []);
    const lowest = (await project.installedEngines())
      .flatMap(({ node }) => (node === undefined ? [] : [semver.minVersion(node)!]))
      .reduce((highest, version) => (semver.gt(version, highest) ? version : highest), semver.parse('20.0.0')!);
    assert.equal(semver.minVersion(manifest.engines.node)!.version, lowest.version);
  });

  describe('then with the clients installed', () => {
    let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
    before(async () => {
      await project.install(
        `${KUBERNETES}@${manifest.peerDependencies[KUBERNETES]}`,
        `${NATS}@${manifest.peerDependencies[NATS]}`,
      );
      nats = await startNatsServer();
    });
    after(async () => {
      await nats?.stop();
    });

    it('the providers find their peers: pods through the Kubernetes API, nodes through nats-server', async () => {
      const { code, stdout, stderr } = await project.node(['run-providers.mjs'], {
        KUBECONFIG_FILE: kubeconfig,
        NATS_URL: nats!.url,
      });
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), { kubernetes: ['10.1.0.10:3322'], nats: ['10.8.0.2:3322'] });
    });

    it('distcache serve --kubernetes gets past the dependency to the configuration', async () => {
      const { code, stderr } = await serve('--kubernetes', 'app=distcache');
      assert.equal(code, 1, stderr);
      assert.match(stderr, /^distcache serve: ERR_INVALID_CONFIG: KubernetesDiscovery: not running in Kubernetes/);
    });
  });
});
