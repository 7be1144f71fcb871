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

/** Ids are positive integers; any other key is a user that does not exist. */
const USER_ID = /^\d{1,9}$/;

/**
 * A distcache data source reading users by id: `fetch` one, `fetchMany` a
 * batch in one `WHERE id = ANY($1)` query (distcache batches the keys of a
 * getMany, and the cold keys of gets asked together, up to the keyspace's
 * `maxBatch`). A missing row is "not found". `queries` counts the queries sent.
 */
export function usersDataSource(db: SqlDatabase): Required<DataSource<User>> & { queries: number } {
  const source = {
    queries: 0,
    async fetch(key: string): Promise<User | undefined> {
      if (!USER_ID.test(key)) return undefined;
      source.queries++;
      const rows = await db.query<User>(`SELECT id, name, email FROM ${USERS_TABLE} WHERE id = $1`, [Number(key)]);
      return rows[0];
    },
    async fetchMany(keys: readonly string[]): Promise<Map<string, User>> {
      const ids = keys.filter((key) => USER_ID.test(key)).map(Number);
      if (ids.length === 0) return new Map();
      source.queries++;
      const rows = await db.query<User>(`SELECT id, name, email FROM ${USERS_TABLE} WHERE id = ANY($1::int[])`, [ids]);
      // Keyed by the id as a string: the keys distcache asked for.
      return new Map(rows.map((user) => [String(user.id), user]));
    },
  };
  return source;
}
