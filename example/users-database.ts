/**
 * The example's database: a real SQL `users` table, in embedded PGlite
 * (Postgres compiled to WASM, in-process) by default, or on the Postgres
 * server named by DATABASE_URL through `pg`.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { DataSource } from 'distcache';

/** The few calls the example needs, the same for PGlite and pg. */
export interface SqlDatabase {
  /** "PGlite (embedded)" or "Postgres at host:port". */
  readonly description: string;
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export interface User {
  id: number;
  name: string;
  email: string;
}

/** The table the example owns; dropped and recreated by {@link seedUsers}. */
export const USERS_TABLE = 'distcache_example_users';

/** Opens PGlite, or the server in `databaseUrl` when given. */
export async function openDatabase(databaseUrl = process.env.DATABASE_URL): Promise<SqlDatabase> {
  if (databaseUrl) {
    // pg has no per-query AbortSignal; query_timeout bounds a query on the client side instead.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, query_timeout: 5_000 });
    let closing = false;
    // An idle connection can end under the pool (a server restart; or our own shutdown, as
    // pool.end() resolves before its connections have closed). pg reports it as an 'error' on
    // the pool, and an unhandled 'error' would end the process.
    pool.on('error', (error) => {
      if (!closing) console.warn(`postgres: idle connection lost: ${error.message}`);
    });
    const { hostname, port } = new URL(databaseUrl);
    return {
      description: `Postgres at ${hostname}:${port || 5432}`,
      query: async <Row>(sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows as Row[],
      close: () => {
        closing = true;
        return pool.end();
      },
    };
  }
  const db = await PGlite.create();
  return {
    description: 'PGlite (embedded Postgres)',
    query: async <Row>(sql: string, params?: unknown[]) => (await db.query<Row>(sql, params)).rows,
    close: () => db.close(),
  };
}

/** (Re)creates the users table with a few rows. */
export async function seedUsers(db: SqlDatabase): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${USERS_TABLE}`);
  await db.query(`CREATE TABLE ${USERS_TABLE} (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL)`);
  await db.query(
    `INSERT INTO ${USERS_TABLE} (id, name, email) VALUES
       (1, 'Ada Lovelace', 'ada@example.com'),
       (2, 'Alan Turing', 'alan@example.com'),
       (3, 'Grace Hopper', 'grace@example.com')`,
  );
}

/** A distcache data source reading one user by id; a missing row is `undefined`. */
export function usersDataSource(db: SqlDatabase): DataSource<User> & { queries: number } {
  const source = {
    queries: 0,
    async fetch(key: string): Promise<User | undefined> {
      source.queries++;
      if (!/^\d{1,9}$/.test(key)) return undefined;
      const rows = await db.query<User>(`SELECT id, name, email FROM ${USERS_TABLE} WHERE id = $1`, [Number(key)]);
      return rows[0];
    },
  };
  return source;
}
