/** The value of one sample line of the Prometheus text (`name{labels}`), or undefined when absent. */
export function sample(metrics: string, line: string): number | undefined {
  const found = metrics.split('\n').find((candidate) => candidate.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/** Requests a node sent to its peers, by message type, all outcomes, from its Prometheus text. */
export function peerRequestsByType(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const match = /^distcache_peer_request_duration_seconds_count\{type="([^"]+)"[^}]*\} (\d+)/.exec(line);
    if (match) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** Peer requests a node with an admin server on `ip:9464` has sent, all types and outcomes. */
export async function peerRequestsSent(ip: string): Promise<Map<string, number>> {
  return peerRequestsByType(await (await fetch(`http://${ip}:9464/metrics`)).text());
}

/** Peer requests the nodes on `ips` (admin servers on `ip:9464`) sent while `run` ran, by type (types sent only). */
export async function peerRequestsDuring(
  ips: readonly string[],
  run: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const total = async () => {
    const sum = new Map<string, number>();
    for (const counts of await Promise.all(ips.map(peerRequestsSent)))
      for (const [type, count] of counts) sum.set(type, (sum.get(type) ?? 0) + count);
    return sum;
  };
  const before = await total();
  await run();
  const after = await total();
  const sent: Record<string, number> = {};
  for (const [type, count] of after) if (count > (before.get(type) ?? 0)) sent[type] = count - (before.get(type) ?? 0);
  return sent;
}

/** The total of a set of counts. */
export const sumOf = (counts: Record<string, number>): number =>
  Object.values(counts).reduce((total, count) => total + count, 0);
