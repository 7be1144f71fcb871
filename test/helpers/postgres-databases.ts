import { after, before } from 'node:test';
import { startPostgres, type PostgresServer } from '../../example/postgres-server.js';
import { openDatabase, type SqlDatabase } from '../../example/users-database.js';

/**
 * Starts the examples' embedded Postgres server before this test file's
 * tests and stops it after them. Returns the two databases the tests run
 * against (in-process PGlite, and that server through pg), each a fresh
 * connection per call, and the server's URL (valid once the tests run).
 */
export function postgresForThisFile(): {
  databases: [string, () => Promise<SqlDatabase>][];
  url: () => string;
} {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server.stop();
  });
  const url = () => server.url;
  return {
    databases: [
      ['embedded PGlite', () => openDatabase('')],
      ['a Postgres server through pg', () => openDatabase(url())],
    ],
    url,
  };
}
