/**
 * Install weight: `npm pack` of this repository, installed into empty
 * projects side by side with the same npm cache: distcache alone; distcache
 * with both optional peers (the Kubernetes and NATS clients, which every
 * install carried while they were dependencies); and bentocache, the anchor.
 *
 *   npm run bench:install
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packRepository, repositoryManifest, TempProject, type InstallSize } from '../test/helpers/packed-install.js';
import { report, row } from './harness.js';

const MB = 2 ** 20;
const BUDGET_MB = 80;

async function installed(name: string, ...specs: string[]): Promise<InstallSize> {
  const project = await TempProject.create(name);
  try {
    await project.install(...specs);
    return await project.size();
  } finally {
    await project.remove();
  }
}

const work = await mkdtemp(path.join(tmpdir(), 'distcache-bench-install-'));
try {
  const tarball = await packRepository(work);
  const { peerDependencies } = await repositoryManifest();
  const peers = Object.entries(peerDependencies).map(([name, range]) => `${name}@${range}`);
  const alone = await installed('alone', tarball);
  const withPeers = await installed('peers', tarball, ...peers);
  const bentocache = await installed('bentocache', 'bentocache');
  const mb = (size: InstallSize) => Math.round((size.diskBytes / MB) * 10) / 10;
  report(
    'install',
    [
      row('npm i distcache: disk used', mb(alone), `the budget`, BUDGET_MB, 'MB', { atMost: 1 }),
      row(
        'npm i distcache: disk used',
        mb(alone),
        `with the optional peers (${peers.join(', ')}), as every install was before`,
        mb(withPeers),
        'MB',
      ),
      row('npm i distcache: packages', alone.packages, 'with the optional peers', withPeers.packages, 'packages'),
      row('npm i distcache: disk used', mb(alone), 'npm i bentocache', mb(bentocache), 'MB'),
    ],
    [
      'npm pack of this repository (built first), npm install of the tarball into an empty project from the npm registry; MB = 2^20 bytes of allocated blocks, as du -sm counts',
      `apparent sizes (sum of file sizes): distcache ${(alone.apparentBytes / MB).toFixed(1)} MB, with the optional peers ${(withPeers.apparentBytes / MB).toFixed(1)} MB, bentocache ${(bentocache.apparentBytes / MB).toFixed(1)} MB`,
      `bentocache installs ${bentocache.packages} packages; its drivers' clients (ioredis, knex, ...) are optional peers too`,
    ],
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
