import { freePort } from './ports.js';
import { ServerProcess } from './server-process.js';

/** A real nats-server (Debian package `nats-server`) on 127.0.0.1, optionally wanting a token. */
export async function startNatsServer(options: { token?: string } = {}): Promise<ServerProcess & { url: string }> {
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(options.token ? ['--auth', options.token] : [])];
  const server = Object.assign(new ServerProcess('nats-server', args, 'Server is ready', 'nats-server'), { url: `nats://127.0.0.1:${port}` });
  await server.start();
  return server;
}
