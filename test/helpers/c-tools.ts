import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseSessionAddress } from '../../src/protocol/address.js';

/** The C distcache 1.5 tools the interop suite runs, from the folder in DISTCACHE_C_TOOLS. */
export interface CTools {
  readonly dir: string;
  readonly dcServer: string;
  readonly dcClient: string;
  readonly dcSnoop: string;
  readonly dcTest: string;
  /** The LD_PRELOAD shim that mixes the process id into dc_test's seed. */
  readonly seedShim: string;
}

/**
 * Finds the C tools; throws, naming what is missing, when DISTCACHE_C_TOOLS
 * is unset or a tool is not there: the interop suite fails rather than skips.
 */
export function locateCTools(env: NodeJS.ProcessEnv = process.env): CTools {
  const given = env.DISTCACHE_C_TOOLS;
  const how =
    'point it at the folder holding dc_server, dc_client, dc_snoop, dc_test and libdcseed.so, e.g. ' +
    'DISTCACHE_C_TOOLS=/path/to/distcache-c npm run test:interop';
  if (given === undefined || given === '') throw new Error(`DISTCACHE_C_TOOLS is not set: ${how}`);
  const dir = path.resolve(given);
  const tools = {
    dir,
    dcServer: path.join(dir, 'dc_server'),
    dcClient: path.join(dir, 'dc_client'),
    dcSnoop: path.join(dir, 'dc_snoop'),
    dcTest: path.join(dir, 'dc_test'),
    seedShim: path.join(dir, 'libdcseed.so'),
  };
  const missing = Object.entries(tools)
    .filter(([name]) => name !== 'dir')
    .filter(([name, file]) => {
      try {
        accessSync(file, name === 'seedShim' ? constants.R_OK : constants.X_OK);
        return false;
      } catch {
        return true;
      }
    })
    .map(([, file]) => path.basename(file));
  if (missing.length > 0) throw new Error(`DISTCACHE_C_TOOLS=${given} (${dir}) lacks ${missing.join(', ')}: ${how}`);
  return tools;
}

/** Whether something listens on `address` (UNIX:/path, IP:host:port), read from /proc: no connection is made. */
export function isListening(address: string): boolean {
  const parsed = parseSessionAddress(address);
  if (parsed.kind === 'unix') {
    // Num RefCount Protocol Flags Type St Inode Path; a listening socket has flag __SO_ACCEPTCON (00010000).
    return readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .some((line) => {
        const fields = line.trim().split(/\s+/);
        return fields[7] === parsed.path && fields[3] === '00010000';
      });
  }
  // local_address is the IPv4 address as a little-endian hex word, then the port; state 0A is LISTEN.
  const host = (parsed.host ?? '0.0.0.0').split('.').map(Number);
  const hex = (value: number, digits: number) => value.toString(16).toUpperCase().padStart(digits, '0');
  const local = `${host
    .reverse()
    .map((byte) => hex(byte, 2))
    .join('')}:${hex(parsed.port, 4)}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === '0A';
    });
}

/** A process the suite started. */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with its exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** The result of a command run to its end. */
export interface Finished {
  readonly code: number | NodeJS.Signals;
  readonly output: string;
  readonly seconds: number;
}

/**
 * Starts and stops the processes of one test file, and kills whatever is left
 * (SIGKILL) in {@link killAll}, which the file's `after` hook calls, and at
 * process exit should the hook never run.
 */
export class Processes {
  readonly #running = new Set<Started>();

  constructor() {
    process.once('exit', () => {
      for (const started of this.#running) started.child.kill('SIGKILL');
    });
  }

  /** Spawns `command`; its stdout and stderr are kept for {@link Started.output}. */
  spawn(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Started {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | NodeJS.Signals>((resolve) => {
      child.once('error', (error) => ((output += `\n${error.message}`), resolve(-1)));
      child.once('close', (code, signal) => resolve(code ?? signal ?? -1));
    });
    const started: Started = { name, child, output: () => output, exited };
    this.#running.add(started);
    void exited.then(() => this.#running.delete(started));
    return started;
  }

  /**
   * Spawns a server and resolves once `ready` holds (polled every 20 ms);
   * rejects with its output if it exits first or is not ready in 15 s.
   */
  async start(
    name: string,
    command: string,
    args: readonly string[],
    ready: (started: Started) => boolean,
    env: NodeJS.ProcessEnv = {},
  ): Promise<Started> {
    const started = this.spawn(name, command, args, env);
    let exit: number | NodeJS.Signals | undefined;
    void started.exited.then((code) => (exit = code));
    const deadline = Date.now() + 15_000;
    while (!ready(started)) {
      if (exit !== undefined) throw new Error(`${name} exited (${exit}) before it was ready: ${started.output()}`);
      if (Date.now() > deadline) {
        await this.stop(started);
        throw new Error(`${name} was not ready within 15 s: ${started.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return started;
  }

  /** Runs `command` to its end; killed (and reported so) after `timeoutMs`. */
  async run(
    name: string,
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<Finished> {
    const begun = performance.now();
    const started = this.spawn(name, command, args, options.env);
    const timer = setTimeout(() => started.child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    const code = await started.exited;
    clearTimeout(timer);
    return { code, output: started.output(), seconds: (performance.now() - begun) / 1000 };
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  async stop(started: Started): Promise<number | NodeJS.Signals> {
    if (started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGTERM');
      const timer = setTimeout(() => started.child.kill('SIGKILL'), 5_000);
      await started.exited;
      clearTimeout(timer);
    }
    return started.exited;
  }

  /** Kills every process still running and waits for them. */
  async killAll(): Promise<void> {
    const left = [...this.#running];
    for (const started of left) started.child.kill('SIGKILL');
    await Promise.all(left.map((started) => started.exited));
  }
}

/** `distcache <args>` as the integration tests run it: the CLI's source through tsx. */
export const DISTCACHE = {
  command: process.execPath,
  args: (...args: string[]) => ['--import', 'tsx', new URL('../../src/cli/main.ts', import.meta.url).pathname, ...args],
};

/** One dc_test run's outcome, kept for the suite's tally of failures. */
export interface DcTestRun extends Finished {
  readonly args: readonly string[];
  /** The shortest timeout (s) of the sessions it added: a run longer than this may have seen one expire. */
  readonly shortestTimeout: number;
  /** What the run was for, when its failure is expected (printed with it). */
  readonly note: string | undefined;
}

/**
 * Runs dc_test with LD_PRELOAD=libdcseed.so, so runs started in the same
 * second (in parallel or one after the other) use different session ids.
 */
export async function runDcTest(
  processes: Processes,
  tools: CTools,
  args: readonly string[],
  tally: DcTestRun[],
  note?: string,
): Promise<DcTestRun> {
  const finished = await processes.run('dc_test', tools.dcTest, args, { env: { LD_PRELOAD: tools.seedShim } });
  const flag = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at < 0 ? fallback : Number(args[at + 1]);
  };
  const run = { ...finished, args, shortestTimeout: flag('-timeout', 60) - flag('-timevar', 5), note };
  tally.push(run);
  return run;
}

/**
 * The tally of dc_test runs: how many failed, which of them were expected (a
 * run with a note), and whether each ran long enough to see a session expire.
 */
export function describeDcTestFailures(tally: readonly DcTestRun[]): string {
  const failed = tally.filter((run) => run.code !== 0);
  const unexpected = failed.filter((run) => run.note === undefined);
  const expired = unexpected.filter((run) => run.seconds >= run.shortestTimeout);
  const line = (run: DcTestRun) =>
    `  dc_test ${run.args.join(' ')}${run.note ? ` (${run.note})` : ''}: exit ${run.code} after ` +
    `${run.seconds.toFixed(1)} s${run.seconds >= run.shortestTimeout ? ' (past the shortest session timeout)' : ''}: ` +
    (run.output.match(/^Error, .*$/m)?.[0] ?? run.output.trim().split('\n').pop());
  return [
    `dc_test: ${tally.length} runs, ${unexpected.length} failed unexpectedly` +
      ` (${expired.length} of them ran past the shortest session timeout, so may have seen one expire),` +
      ` ${failed.length - unexpected.length} failed as expected`,
    ...failed.map(line),
  ].join('\n');
}
