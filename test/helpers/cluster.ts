import { fork, type ChildProcess } from 'node:child_process';
import type { Command, NodeConfig } from './cluster-node.js';

/**
 * The node script: this TypeScript file through tsx, or the compiled JavaScript
 * that DISTCACHE_NODE_SCRIPT names (the benchmarks measure what users run).
 */
function nodeScript(): { script: string; execArgv: string[] } {
  const compiled = process.env.DISTCACHE_NODE_SCRIPT;
  return compiled
    ? { script: compiled, execArgv: [] }
    : { script: new URL('./cluster-node.ts', import.meta.url).pathname, execArgv: ['--import', 'tsx'] };
}

/** A cluster node running in a child process. */
export class ClusterNode {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #nextId = 1;
  readonly started: Promise<void>;

  constructor(readonly config: NodeConfig) {
    const { script, execArgv } = nodeScript();
    const nodeArgs = [
      ...execArgv,
      ...(process.env.DISTCACHE_TEST_NODE_ARGS ? process.env.DISTCACHE_TEST_NODE_ARGS.split(' ') : []),
    ];
    // In a network namespace: `ip netns exec <ns> node ...`, which execs node in place (same pid, same IPC channel).
    const inNamespace = config.netns && { execPath: 'ip', execArgv: ['netns', 'exec', config.netns, process.execPath] };
    this.#child = fork(script, [], {
      execPath: inNamespace ? inNamespace.execPath : process.execPath,
      execArgv: inNamespace ? [...inNamespace.execArgv, ...nodeArgs] : nodeArgs,
      env: { ...process.env, DISTCACHE_TEST_NODE: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.started = new Promise((resolve, reject) => {
      this.#child.on(
        'message',
        (message: {
          id?: number;
          result?: unknown;
          error?: { code: string; message: string };
          ready?: true;
          startError?: { code: string; message: string };
        }) => {
          if (message.ready) resolve();
          if (message.startError)
            reject(Object.assign(new Error(message.startError.message), { code: message.startError.code }));
          if (message.id === undefined) return;
          const pending = this.#pending.get(message.id);
          this.#pending.delete(message.id);
          if (message.error)
            pending?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
          else pending?.resolve(message.result);
        },
      );
      this.#child.on('exit', (code) => {
        reject(new Error(`node ${config.ip} exited with ${code}`));
        for (const pending of this.#pending.values()) pending.reject(new Error(`node ${config.ip} exited`));
        this.#pending.clear();
      });
    });
    this.started.catch(() => undefined);
  }

  /** The node's process id. */
  get pid(): number {
    return this.#child.pid!;
  }

  /** This node's peer id (`ip:3320`). */
  get id(): string {
    return `${this.config.ip}:3320`;
  }

  /** Sends a command and resolves its result. */
  send<T = unknown>(command: Command): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ ...command, id });
    });
  }

  /** Sends a signal to the process (SIGKILL, SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Resolves when the process has exited. */
  exited(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /** Kills the process if it still runs. */
  async kill(): Promise<void> {
    this.#child.kill('SIGCONT');
    this.#child.kill('SIGKILL');
    await this.exited();
  }
}

/** Starts `count` nodes on `${ipPrefix}.2`, `.3`, ... that list each other as static peers. */
export async function startCluster(
  ipPrefix: string,
  count: number,
  extra: Partial<NodeConfig> | ((ip: string) => Partial<NodeConfig>) = {},
): Promise<ClusterNode[]> {
  const ips = Array.from({ length: count }, (_, i) => `${ipPrefix}.${i + 2}`);
  const peers = ips.map((ip) => `${ip}:3322`);
  const nodes = ips.map((ip) => new ClusterNode({ ip, peers, ...(typeof extra === 'function' ? extra(ip) : extra) }));
  await Promise.all(nodes.map((node) => node.started));
  await waitForAdmitted(nodes, count);
  return nodes;
}

/** Waits until every node has `count` admitted members (itself included). */
export async function waitForAdmitted(nodes: ClusterNode[], count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(
      nodes.map((node) => node.send<{ admitted: boolean; state: string }[]>({ cmd: 'peers' })),
    );
    if (views.every((view) => view.filter((peer) => peer.admitted && peer.state === 'alive').length === count)) return;
    if (Date.now() > deadline)
      throw new Error(`cluster did not converge on ${count} members: ${JSON.stringify(views)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until `node` sees `target` in one of `states`; resolves the time it took. */
export async function waitForState(
  node: ClusterNode,
  target: string,
  states: string[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const peers = await node.send<{ id: string; state: string }[]>({ cmd: 'peers' });
    if (states.includes(peers.find((peer) => peer.id === target)?.state ?? 'unknown')) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`${target} not ${states.join('/')} within ${timeoutMs} ms: ${JSON.stringify(peers)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops every node that still runs. */
export async function stopCluster(nodes: ClusterNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.kill()));
}
