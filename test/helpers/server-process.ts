import { spawn, type ChildProcess } from 'node:child_process';

/** A server binary the test runs, kills (an outage) and runs again with the same arguments. */
export class ServerProcess {
  #child: ChildProcess | undefined;

  /**
   * @param command  the binary, e.g. `nats-server`
   * @param args     its arguments
   * @param ready    text the server writes to stdout or stderr once it serves
   * @param install  the Debian package to name when the binary is missing
   */
  constructor(
    readonly command: string,
    readonly args: string[],
    readonly ready: string,
    readonly install: string,
  ) {}

  /** Runs the server and resolves once it printed `ready` (within 10 s). */
  async start(): Promise<void> {
    // Debian installs dnsmasq and nats-server in /usr/sbin, which a non-root PATH may lack.
    const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
    const child = spawn(this.command, this.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.command} did not start in 10 s: ${log}`)), 10_000);
      const onOutput = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes(this.ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onOutput);
      child.stderr!.on('data', onOutput);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${this.command} could not run (apt-get install ${this.install}): ${error.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.command} exited with ${code}: ${log}`));
      });
    });
  }

  /** Sends a signal to the running server (SIGHUP to reload). */
  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** Kills the server (SIGKILL, like a crash) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Starts the server `make` builds for a port `pickPort` found free, trying
 * again with another port when it was taken in the meantime (another test's
 * listener, or TCP taken where UDP was free).
 */
export async function startOnFreePort(
  pickPort: () => Promise<number>,
  make: (port: number) => ServerProcess,
): Promise<{ server: ServerProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const server = make(port);
    try {
      await server.start();
      return { server, port };
    } catch (error) {
      if (attempt >= 5 || !/address already in use/i.test(String((error as Error).message))) throw error;
    }
  }
}
