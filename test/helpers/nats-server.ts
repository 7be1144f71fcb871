import { freePort } from './ports.js';
import { ServerProcess, startOnFreePort } from './server-process.js';

/** A real nats-server (Debian package `nats-server`) on 127.0.0.1, optionally wanting a token. */
export async function startNatsServer(options: { token?: string } = {}): Promise<ServerProcess & { url: string }> {
  const { server, port } = await startOnFreePort(
    freePort,
    (port) =>
      new ServerProcess(
        'nats-server',
        ['-a', '127.0.0.1', '-p', String(port), ...(options.token ? ['--auth', options.token] : [])],
        'Server is ready',
        'nats-server',
      ),
  );
  return Object.assign(server, { url: `nats://127.0.0.1:${port}` });
}
