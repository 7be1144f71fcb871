import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { SessionListener } from '../../src/protocol/listener.js';
import { SessionOperations } from '../../src/protocol/session-operations.js';
import { silentLogger, sleep } from '../helpers/engine.js';

const directory = mkdtempSync(join(tmpdir(), 'session-stop-'));
after(() => rmSync(directory, { recursive: true, force: true }));

it('stop() closes a connection accepted while it removes its UNIX socket, and resolves', async () => {
  const path = join(directory, 'stop.sock');
  const listener = new SessionListener(
    { listen: [`UNIX:${path}`], tls: undefined, socket: undefined, idleTimeout: 60_000, maxConnections: 10 },
    new SessionOperations({ get: () => undefined, put: () => true, delete: () => false }),
    silentLogger,
  );
  await listener.start();
  const stopped = listener.stop().then(() => 'stopped');
  // Connects while stop() checks the socket file it is about to remove, before the server stops accepting.
  const late = net.connect({ path });
  late.on('error', () => undefined);
  try {
    await once(late, 'connect');
    assert.equal(await Promise.race([stopped, sleep(2_000).then(() => 'still stopping')]), 'stopped');
  } finally {
    late.destroy();
    await stopped;
  }
});
