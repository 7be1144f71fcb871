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
