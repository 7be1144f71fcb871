import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Node arguments that run the `distcache` command from source. */
export const CLI = ['--import', 'tsx', new URL('../../src/cli/main.ts', import.meta.url).pathname];

/** A long-running `distcache` command (serve, proxy, snoop) in its own process. */
export class CliProcess {
  #output = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk) => (this.#output += chunk));
    child.stderr!.on('data', (chunk) => (this.#output += chunk));
  }

  /** Runs `distcache ...args` and resolves once its output matches `ready` (within 20 s). */
  static async start(args: string[], ready: RegExp = /listening on/, env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
    const child = spawn(process.execPath, [...CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const command = new CliProcess(child);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready in 20 s: ${command.output}`)), 20_000);
        const check = () => ready.test(command.output) && (clearTimeout(timer), resolve());
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`exited ${code}: ${command.output}`))));
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return command;
  }

  /** Everything it printed so far, stdout and stderr. */
  get output(): string {
    return this.#output;
  }

  /** Its resident memory in MiB, from /proc. */
  rssMiB(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  /** Stops it with SIGTERM (SIGKILL after 10 s) and resolves its exit code. */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** Runs a `distcache` command to its end (at most 60 s); resolves its exit code and output. */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
