/** The value of one sample line of the Prometheus text (`name{labels}`), or undefined when absent. */
export function sample(metrics: string, line: string): number | undefined {
  const found = metrics.split('\n').find((candidate) => candidate.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}
