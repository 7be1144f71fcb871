import type { DataSource } from '../../src/index.js';

/** What the table needs of a database: PGlite or a pg pool behind the examples' `Queryable` will do. */
export interface Queryable {
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
}

/** A row of the table. */
export interface CountedUser {
  id: number;
  name: string;
  email: string;
}

/**
 * A users table in a real Postgres (PGlite or a server) that counts the
 * queries it answers itself: data sources read it only through the SQL
 * function `<table>_by_ids(int[])`, which logs each call, with the ids asked,
 * in `<table>_log`. So the counts are what the database ran, not what a data
 * source believes it sent.
 */
export class CountedUsers {
  private constructor(
    readonly db: Queryable,
    readonly table: string,
  ) {}

  /** Creates the table with users 1..`rows`, its logging function and its log (dropping leftovers first). */
  static async create(db: Queryable, rows = 1_000, table = `distcache_counted_users_${process.pid}`) {
    const users = new CountedUsers(db, table);
    await users.drop();
    await db.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL)`);
    await db.query(
      `INSERT INTO ${table} (id, name, email)
         SELECT n, 'user ' || n, 'user' || n || '@example.com' FROM generate_series(1, $1::int) AS n`,
      [rows],
    );
    await db.query(`CREATE TABLE ${table}_log (query serial PRIMARY KEY, ids integer[] NOT NULL)`);
    await db.query(`
      CREATE FUNCTION ${table}_by_ids(wanted integer[]) RETURNS SETOF ${table} LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO ${table}_log (ids) VALUES (wanted);
        RETURN QUERY SELECT * FROM ${table} WHERE id = ANY(wanted);
      END $$`);
    return users;
  }

  /** A table {@link create} made, as another process sees it. */
  static existing(db: Queryable, table: string): CountedUsers {
    return new CountedUsers(db, table);
  }

  /** Queries the database has answered since the table was created. */
  async queries(): Promise<number> {
    const [row] = await this.db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${this.table}_log`);
    return row!.count;
  }

  /** The ids each query asked for, in the order the queries ran. */
  async idsAsked(): Promise<number[][]> {
    const rows = await this.db.query<{ ids: number[] }>(`SELECT ids FROM ${this.table}_log ORDER BY query`);
    return rows.map((row) => row.ids);
  }

  /** Renames a user, as an application writing to the database would. */
  async rename(id: number, name: string): Promise<void> {
    await this.db.query(`UPDATE ${this.table} SET name = $2 WHERE id = $1`, [id, name]);
  }

  /**
   * A data source reading users by id: `fetch` one, and with `batched` also
   * `fetchMany` (one query for all the ids, answered as a Map by key). Each
   * call waits `delayMs` after its query, as a slower database would.
   */
  dataSource({ batched, delayMs = 0 }: { batched: boolean; delayMs?: number }): DataSource<CountedUser> {
    const byIds = async (keys: readonly string[]): Promise<CountedUser[]> => {
      const rows = await this.db.query<CountedUser>(`SELECT id, name, email FROM ${this.table}_by_ids($1::int[])`, [
        keys.map(Number),
      ]);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return rows;
    };
    const fetch = async (key: string) => (await byIds([key]))[0];
    if (!batched) return { fetch };
    return {
      fetch,
      fetchMany: async (keys) => new Map((await byIds(keys)).map((user) => [String(user.id), user])),
    };
  }

  /** Drops the table, its function and its log. */
  async drop(): Promise<void> {
    await this.db.query(`DROP FUNCTION IF EXISTS ${this.table}_by_ids(integer[])`);
    await this.db.query(`DROP TABLE IF EXISTS ${this.table}_log`);
    await this.db.query(`DROP TABLE IF EXISTS ${this.table}`);
  }
}
