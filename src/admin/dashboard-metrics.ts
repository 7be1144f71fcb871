/**
 * The dashboard's reading of `GET /metrics`, as browser JavaScript: parses
 * the Prometheus text, turns counters into growth between two scrapes, and
 * histograms into quantiles (linear within a bucket, as Prometheus's
 * `histogram_quantile`). Pure functions, no DOM: the page embeds this text,
 * and test/unit/dashboard-metrics.test.ts runs it in a VM context against a
 * real metrics registry.
 *
 * Gets answered at once are timed 1 in 1024 (`distcache_request_duration_seconds`),
 * while `distcache_requests_total` counts every call: {@link requestQuantiles}
 * weighs each outcome's latency histogram by its count of calls, so a
 * keyspace serving mostly hits shows a hit's latency at p50.
 */
export const DASHBOARD_METRICS_SCRIPT = String.raw`
/** The samples of a Prometheus text exposition, by series ("name{labels}"): { name, labels, value }. */
function parseMetrics(text) {
  const series = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    const match = /^([A-Za-z_:][\w:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[name] = value.replace(/\\(.)/g, (_, escaped) => (escaped === "n" ? "\n" : escaped));
    series.set(match[1] + (match[2] || ""), { name: match[1], labels, value: Number(match[3]) });
  }
  return series;
}

/**
 * How much each counter named "name" grew from "before" to "now", summed by
 * the group "groupOf(labels)" answers (samples it answers undefined for are
 * left out). A series new since "before" grew from 0; a counter that went
 * down (the process restarted) grew by 0.
 */
function growthBy(now, before, name, groupOf) {
  const sums = new Map();
  for (const [key, sample] of now) {
    if (sample.name !== name) continue;
    const group = groupOf(sample.labels);
    if (group === undefined) continue;
    const previous = before.get(key);
    const grown = Math.max(0, sample.value - (previous ? previous.value : 0));
    sums.set(group, (sums.get(group) || 0) + grown);
  }
  return sums;
}

/** The q-quantile of bucket counts (Map upper bound → count in that bucket alone), or undefined when empty. */
function quantile(q, buckets) {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = bounds.reduce((sum, bound) => sum + buckets.get(bound), 0);
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let seen = 0;
  let lower = 0;
  for (const upper of bounds) {
    const count = buckets.get(upper);
    if (count > 0 && seen + count >= rank) return upper === Infinity ? lower : lower + ((upper - lower) * (rank - seen)) / count;
    seen += count;
    if (upper !== Infinity) lower = upper;
  }
  return lower;
}

/** Counts in each bucket alone (not cumulative) of the histogram series matching "matches", grown since "before" (an empty Map: since the start). */
function bucketGrowth(now, before, histogram, matches) {
  const cumulative = growthBy(now, before, histogram + "_bucket", (labels) =>
    matches(labels) ? (labels.le === "+Inf" ? Infinity : Number(labels.le)) : undefined,
  );
  const buckets = new Map();
  let below = 0;
  for (const bound of [...cumulative.keys()].sort((a, b) => a - b)) {
    buckets.set(bound, Math.max(0, cumulative.get(bound) - below));
    below = Math.max(below, cumulative.get(bound));
  }
  return buckets;
}

/**
 * p50 and p99 in seconds of one keyspace's calls of one operation, from
 * "before" to "now": each outcome's latency buckets, weighted by the calls
 * of that outcome (from "counter"). An outcome timed only in a sample, with
 * no sample in the window, takes the shape of all its samples so far.
 * Undefined quantiles when there were no calls.
 */
function requestQuantiles(now, before, counter, histogram, keyspace, operation) {
  const ofCall = (labels) => labels.keyspace === keyspace && labels.operation === operation;
  const calls = growthBy(now, before, counter, (labels) => (ofCall(labels) ? labels.outcome : undefined));
  const merged = new Map();
  for (const [outcome, count] of calls) {
    if (count === 0) continue;
    const matches = (labels) => ofCall(labels) && labels.outcome === outcome;
    let shape = bucketGrowth(now, before, histogram, matches);
    if (sum(shape) === 0) shape = bucketGrowth(now, new Map(), histogram, matches);
    const timed = sum(shape);
    if (timed === 0) continue;
    for (const [bound, inBucket] of shape) merged.set(bound, (merged.get(bound) || 0) + (inBucket * count) / timed);
  }
  return { p50: quantile(0.5, merged), p99: quantile(0.99, merged) };
}

/** p50 and p99 in seconds of the histogram series matching "matches", from "before" to "now" (every call timed). */
function histogramQuantiles(now, before, histogram, matches) {
  const buckets = bucketGrowth(now, before, histogram, matches);
  return { p50: quantile(0.5, buckets), p99: quantile(0.99, buckets) };
}

function sum(buckets) {
  let total = 0;
  for (const count of buckets.values()) total += count;
  return total;
}
`;
