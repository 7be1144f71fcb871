/**
 * The package as a user installs it: `npm pack` of this repository (which
 * builds first), then `npm install` of the tarball into an empty temporary
 * project, from the npm registry. Used by test/integration/package-install.test.ts
 * and bench/install.ts.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPOSITORY = new URL('../../', import.meta.url).pathname;
/** npm's own output, long enough for a cold cache on a slow registry. */
const NPM_TIMEOUT_MS = 240_000;

/** An empty npm project in a temporary directory. */
export class TempProject {
  private constructor(readonly dir: string) {}

  /** Creates the directory with a package.json of its own, so npm installs here and not in a parent. */
  static async create(name: string): Promise<TempProject> {
    const dir = await mkdtemp(path.join(tmpdir(), `distcache-${name}-`));
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: `${name}-project`, version: '1.0.0', private: true, type: 'module' }),
    );
    return new TempProject(dir);
  }

  /** `npm install` of these packages or tarballs, as a user would run it. */
  async install(...specs: string[]): Promise<void> {
    await npm(this.dir, ['install', '--no-audit', '--no-fund', ...specs]);
  }

  /** Packages and bytes under node_modules. */
  async size(): Promise<InstallSize> {
    const lock = JSON.parse(await readFile(path.join(this.dir, 'node_modules', '.package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const { diskBytes, apparentBytes } = await treeSize(path.join(this.dir, 'node_modules'));
    return { packages: Object.keys(lock.packages).length, diskBytes, apparentBytes };
  }

  /** Every installed package's name, version and `engines.node` range (if it declares one). */
  async installedEngines(): Promise<{ name: string; version: string; node: string | undefined }[]> {
    const lock = JSON.parse(await readFile(path.join(this.dir, 'node_modules', '.package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; engines?: { node?: string } | string[] }>;
    };
    return Object.entries(lock.packages).map(([where, entry]) => ({
      name: where.replace(/^.*node_modules\//, ''),
      version: entry.version,
      node: Array.isArray(entry.engines) ? undefined : entry.engines?.node,
    }));
  }

  /** Runs `node` with these arguments in the project; resolves its exit code and output, never rejects on a failure. */
  async node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, args, {
        cwd: this.dir,
        env: { ...process.env, ...env },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number | string; stdout?: string; stderr?: string };
      return {
        code: typeof failed.code === 'number' ? failed.code : -1,
        stdout: failed.stdout ?? '',
        stderr: failed.stderr ?? '',
      };
    }
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** What an install puts on disk. */
export interface InstallSize {
  /** Packages npm installed (entries of node_modules/.package-lock.json). */
  readonly packages: number;
  /** Disk usage as `du` counts it: allocated blocks of every file, directory and link. */
  readonly diskBytes: number;
  /** Sum of the file sizes. */
  readonly apparentBytes: number;
}

/** Packs this repository (`npm pack` runs the build first) into `dir`; resolves the tarball's path. */
export async function packRepository(dir: string): Promise<string> {
  const { stdout } = await npm(REPOSITORY, ['pack', '--json', '--pack-destination', dir]);
  // The JSON is the last thing npm prints, after any output of the build.
  const [packed] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { filename: string }[];
  return path.join(dir, packed!.filename);
}

/** This repository's package.json. */
export async function repositoryManifest(): Promise<{
  version: string;
  engines: { node: string };
  peerDependencies: Record<string, string>;
}> {
  return JSON.parse(await readFile(path.join(REPOSITORY, 'package.json'), 'utf8'));
}

async function npm(cwd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('npm', args, { cwd, timeout: NPM_TIMEOUT_MS, maxBuffer: 16 << 20 });
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${failed.message}\n${failed.stderr ?? ''}`, {
      cause: error,
    });
  }
}

async function treeSize(dir: string): Promise<{ diskBytes: number; apparentBytes: number }> {
  let diskBytes = 0;
  let apparentBytes = 0;
  const visit = async (at: string): Promise<void> => {
    const stats = await lstat(at);
    diskBytes += stats.blocks * 512;
    if (stats.isFile()) apparentBytes += stats.size;
    if (!stats.isDirectory()) return;
    for (const entry of await readdir(at)) await visit(path.join(at, entry));
  };
  await visit(dir);
  return { diskBytes, apparentBytes };
}
