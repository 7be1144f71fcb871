/**
 * Three distcache nodes that find each other through DNS, sharing one
 * Postgres table: a local DNS server answers `cache.local` with 127.0.0.2,
 * .3 and .4; each node resolves it with DnsDiscovery, joins the others, and
 * the keyspace's owner loads each key once for the whole cluster.
 *
 *   npm run example:cluster                                  # embedded Postgres
 *   DATABASE_URL=postgres://... npm run example:cluster      # a Postgres server
 *
 * The nodes run in this one process to keep the example short; they still
 * talk to each other over real sockets, exactly as separate processes do.
 */
import { Engine, jsonCodec } from 'distcache';
import { DnsDiscovery } from 'distcache/discovery/dns';
import { startLocalDnsServer } from './local-dns-server.js';
import { startPostgres } from './postgres-server.js';
import { openDatabase, seedUsers, USERS_TABLE, usersDataSource, type User } from './users-database.js';

const NODE_IPS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const quiet = { debug() {}, info() {}, warn: console.warn, error: console.error };

const dns = await startLocalDnsServer({ 'cache.local': NODE_IPS });
console.log(`DNS server on ${dns.address}: cache.local -> ${NODE_IPS.join(', ')}`);
const postgres = await startPostgres();
const db = await openDatabase(postgres.url);
await seedUsers(db);
console.log(`database: ${db.description}, table ${USERS_TABLE} seeded with 3 users`);

/** One node: its own engine and data source (as a separate process would have), all reading the same table. */
const nodes = NODE_IPS.map((ip) => {
  const users = usersDataSource(db);
  const engine = new Engine({
    logger: quiet,
    bindAddr: ip,
    discovery: new DnsDiscovery({ name: 'cache.local', servers: [dns.address] }),
    minimumPeersQuorum: NODE_IPS.length,
    bootstrapTimeout: 15_000,
    keyspaces: [{ name: 'users', maxBytes: 16 * 1024 * 1024, codec: jsonCodec, dataSource: users, defaultTtl: 60_000 }],
  });
  return { ip, engine, users };
});
await Promise.all(nodes.map((node) => node.engine.start()));
console.log(
  `cluster formed: ${nodes[0]!.engine
    .peers()
    .map((peer) => `${peer.id} (${peer.state})`)
    .sort()
    .join(', ')}`,
);

for (const key of ['1', '2', '3']) {
  const [owner] = nodes[0]!.engine.owners('users', key);
  console.log(
    `users/${key} is owned by ${owner}; every node agrees: ${nodes.every((node) => node.engine.owners('users', key)[0] === owner)}`,
  );
}

const gets = nodes.flatMap((node) => Array.from({ length: 100 }, () => node.engine.get<User>('users', '2')));
const results = await Promise.all(gets);
const queries = nodes.reduce((sum, node) => sum + node.users.queries, 0);
console.log(`${gets.length} concurrent cold gets of users/2 from all 3 nodes -> ${JSON.stringify(results[0]?.value)}`);
console.log(
  `database queries for them, cluster-wide: ${queries} (by node: ${nodes.map((node) => `${node.ip}=${node.users.queries}`).join(', ')})`,
);

await Promise.all(nodes.map((node) => node.engine.stop()));
await db.query(`DROP TABLE IF EXISTS ${USERS_TABLE}`);
await db.close();
await postgres.stop();
await dns.close();
