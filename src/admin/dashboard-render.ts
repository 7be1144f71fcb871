/**
 * The dashboard's drawing, as browser JavaScript (after DASHBOARD_METRICS_SCRIPT):
 * polls the admin endpoints every second, keeps two minutes of points per
 * chart, and renders tables and inline-SVG line charts. Axis labels are HTML
 * beside the SVG, so the plot stretches to any width without distorting text.
 */
export const DASHBOARD_RENDER_SCRIPT = String.raw`
const HISTORY = 120;
/** Scrapes the latency quantiles span (about 5 s): a second holds few slow calls. */
const LATENCY_WINDOW = 5;
const PLOT_TOP = 4;
const PLOT_BOTTOM = 98;
const COLORS = {
  hits: "#1a8a4a", misses: "#e08a1e", writes: "#7a56d6", errors: "#d03c3c", loads: "#2f6fde", ok: "#2f6fde",
  p50: "#2f6fde", p99: "#e08a1e", "hit rate": "#1a8a4a", memory: "#7a56d6",
  ADD: "#2f6fde", GET: "#1a8a4a", REMOVE: "#e08a1e", HAVE: "#7a56d6", found: "#1a8a4a", "not found": "#e08a1e",
};
/** Chart id → series name → values, oldest first (null: nothing to show at that second). */
const history = new Map();
/** The last LATENCY_WINDOW + 1 scrapes of /metrics: { at (ms), samples }. */
const scrapes = [];

const text = (value) => document.createTextNode(String(value));
const el = (tag, attributes, children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children || []) node.append(typeof child === "string" || typeof child === "number" ? text(child) : child);
  return node;
};
const svgEl = (tag, attributes) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
};
const badge = (state) => el("span", { class: "state " + state, "data-state": state }, [state]);
const formatBytes = (bytes) => bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MiB" : bytes >= 1024 ? (bytes / 1024).toFixed(1) + " KiB" : bytes + " B";
const formatCount = (value) => value >= 1e6 ? (value / 1e6).toFixed(1) + "M" : value >= 1e4 ? (value / 1e3).toFixed(1) + "k" : String(Math.round(value));
const formatRate = (value) => value >= 1e6 ? (value / 1e6).toFixed(1) + "M" : value >= 1e3 ? (value / 1e3).toFixed(1) + "k" : value >= 10 ? value.toFixed(0) : value > 0 ? value.toFixed(1) : "0";
const withUnit = (value, unit) => (value >= 10 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, "")) + unit;
const formatSeconds = (seconds) => seconds >= 1 ? withUnit(seconds, " s") : seconds >= 0.001 ? withUnit(seconds * 1e3, " ms") : withUnit(seconds * 1e6, " µs");
const formatPercent = (ratio) => (ratio * 100).toFixed(0) + "%";
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

/** Appends this second's value of each series of a chart; series absent this time get a gap. */
function record(id, values) {
  const chart = history.get(id) || new Map();
  history.set(id, chart);
  for (const name of new Set([...chart.keys(), ...Object.keys(values)])) {
    const line = chart.get(name) || [];
    line.push(values[name] === undefined || !Number.isFinite(values[name]) ? null : values[name]);
    if (line.length > HISTORY) line.shift();
    chart.set(name, line);
  }
  return chart;
}

/** The vertical scale of a chart: a position (0 top, 100 bottom) for each value, and labelled ticks. */
function scaleOf(kind, values) {
  const span = PLOT_BOTTOM - PLOT_TOP;
  if (kind === "percent") {
    return { y: (v) => PLOT_BOTTOM - v * span, ticks: [0, 0.5, 1], format: formatPercent };
  }
  if (kind === "seconds") {
    const positive = values.filter((v) => v > 0);
    let low = positive.length ? Math.pow(10, Math.floor(Math.log10(Math.min(...positive)))) : 1e-5;
    const high = positive.length ? Math.pow(10, Math.ceil(Math.log10(Math.max(...positive)))) : 0.1;
    if (low >= high || low === Math.min(...positive)) low = Math.min(low, high) / 10;
    const decades = [];
    for (let tick = low; tick <= high * 1.001; tick *= 10) decades.push(tick);
    // At most 4 labels: every other decade on a wide range, always the top one.
    const ticks = decades.length > 4 ? decades.filter((_, i) => (decades.length - 1 - i) % 2 === 0) : decades;
    const [from, to] = [Math.log10(low), Math.log10(high)];
    return { y: (v) => PLOT_BOTTOM - ((Math.log10(v) - from) / (to - from)) * span, ticks, format: formatSeconds };
  }
  const peak = Math.max(0, ...values);
  const unit = peak > 0 ? Math.pow(10, Math.floor(Math.log10(peak))) : 1;
  const top = [1, 2, 5, 10].map((step) => step * unit).find((candidate) => candidate >= peak) || 1;
  return { y: (v) => PLOT_BOTTOM - (v / top) * span, ticks: [0, top / 2, top], format: formatRate };
}

/** An SVG path through the values, right-aligned on the time axis, broken where a value is missing. */
function pathOf(values, y) {
  let d = "";
  let run = [];
  const flush = () => {
    if (run.length === 1) run.push(run[0]);
    run.forEach(([x, yy], i) => (d += (i === 0 ? "M" : "L") + x + " " + yy.toFixed(2) + " "));
    run = [];
  };
  values.forEach((value, i) => {
    const position = value === null ? NaN : y(value);
    if (!Number.isFinite(position)) return flush();
    run.push([HISTORY - values.length + i, Math.min(PLOT_BOTTOM, Math.max(0, position))]);
  });
  flush();
  return d.trim();
}

/** One chart: a title, a legend with each series' latest value, and the plot of the last two minutes. */
function chart(id, title, kind, lines, emptyNote) {
  const all = lines.flatMap(([, values]) => values.filter((v) => v !== null));
  const scale = scaleOf(kind, all);
  const svg = svgEl("svg", { viewBox: "0 0 " + (HISTORY - 1) + " 100", preserveAspectRatio: "none", "data-bottom": PLOT_BOTTOM, "aria-label": title });
  const plot = el("div", { class: "plot" }, [svg]);
  for (const tick of emptyNote ? [] : scale.ticks) {
    const y = scale.y(tick);
    svg.append(svgEl("line", { x1: 0, x2: HISTORY - 1, y1: y, y2: y, stroke: "#eef0f4", "stroke-width": 1, "vector-effect": "non-scaling-stroke" }));
    plot.append(el("span", { class: "tick", style: "top:" + y + "%" }, [scale.format(tick)]));
  }
  const legend = el("span", { class: "legend" });
  for (const [name, values] of lines) {
    const d = pathOf(values, scale.y);
    const color = COLORS[name] || "#2f6fde";
    if (d) svg.append(svgEl("path", { d, fill: "none", stroke: color, "stroke-width": 2, "stroke-linejoin": "round", "stroke-linecap": "round", "vector-effect": "non-scaling-stroke", "data-series": name }));
    const latest = values.length ? values[values.length - 1] : null;
    legend.append(el("span", {}, [el("i", { style: "background:" + color }), name + " " + (latest === null ? "–" : scale.format(latest))]));
  }
  if (all.length === 0 || emptyNote) plot.append(el("div", { class: "empty" }, [emptyNote || "no data yet"]));
  return el("div", { class: "chart", "data-chart": id }, [
    el("div", { class: "chart-head" }, [el("span", { class: "chart-title" }, [title]), legend]),
    plot,
    el("div", { class: "x-axis" }, [el("span", {}, ["−2 min"]), el("span", {}, ["−1 min"]), el("span", {}, ["now"])]),
  ]);
}

/** Each series of a recorded chart, in the given order. */
const linesOf = (id, names) => names.map((name) => [name, (history.get(id) && history.get(id).get(name)) || []]);

function requestKind(labels) {
  if (labels.outcome.startsWith("ERR_")) return "errors";
  if (labels.operation !== "get") return "writes";
  return labels.outcome === "hit" ? "hits" : "misses";
}

/** Records this second's points of every chart from the last two scrapes (and the latency window). */
function recordPoints(keyspaces) {
  if (scrapes.length < 2) return;
  const now = scrapes[scrapes.length - 1];
  const previous = scrapes[scrapes.length - 2];
  const windowStart = scrapes[0];
  const seconds = Math.max(0.001, (now.at - previous.at) / 1000);
  const perSecond = (sums) => Object.fromEntries([...sums].map(([name, count]) => [name, count / seconds]));
  for (const { name, stats } of keyspaces) {
    const requests = growthBy(now.samples, previous.samples, "distcache_requests_total", (labels) => labels.keyspace === name ? requestKind(labels) : undefined);
    record("requests:" + name, { hits: 0, misses: 0, writes: 0, errors: 0, ...perSecond(requests) });
    record("latency:" + name, requestQuantiles(now.samples, windowStart.samples, "distcache_requests_total", "distcache_request_duration_seconds", name, "get"));
    const loads = growthBy(now.samples, previous.samples, "distcache_datasource_duration_seconds_count", (labels) => labels.keyspace === name ? (labels.outcome.startsWith("ERR_") ? "errors" : "loads") : undefined);
    record("datasource:" + name, { loads: 0, errors: 0, ...perSecond(loads) });
    const gets = (requests.get("hits") || 0) + (requests.get("misses") || 0);
    record("usage:" + name, { "hit rate": gets > 0 ? (requests.get("hits") || 0) / gets : undefined, memory: stats.maxBytes > 0 ? stats.bytes / stats.maxBytes : 0 });
  }
  const peers = growthBy(now.samples, previous.samples, "distcache_peer_request_duration_seconds_count", (labels) => (labels.outcome === "ok" ? "ok" : "errors"));
  record("peer-requests", { ok: 0, errors: 0, ...perSecond(peers) });
  record("peer-latency", histogramQuantiles(now.samples, windowStart.samples, "distcache_peer_request_duration_seconds", () => true));
  const sessions = growthBy(now.samples, previous.samples, "distcache_session_operations_total", (labels) => labels.operation);
  record("sessions", { ADD: 0, GET: 0, REMOVE: 0, HAVE: 0, ...perSecond(sessions) });
  const lookups = growthBy(now.samples, previous.samples, "distcache_session_operations_total", (labels) => labels.operation !== "GET" ? undefined : labels.status === "FOUND" ? "found" : "not found");
  record("session-lookups", { found: 0, "not found": 0, ...perSecond(lookups) });
}

function renderMembers(peers) {
  const alive = peers.filter((peer) => peer.state === "alive" && peer.admitted);
  document.getElementById("members-count").textContent = String(alive.length);
  const self = peers.find((peer) => peer.self);
  document.getElementById("self").textContent = self ? self.id : "";
  document.getElementById("members").replaceChildren(...peers.map((peer) =>
    el("tr", { "data-member": peer.id }, [
      el("td", { class: "wrap" }, [el("span", { class: "id" }, [peer.id]), ...(peer.self ? [el("span", { class: "tag" }, ["this node"])] : [])]),
      el("td", {}, [badge(peer.state), ...(peer.state === "alive" && !peer.admitted ? [el("span", { class: "tag" }, ["joining"])] : [])]),
      el("td", { title: "incarnation " + peer.incarnation }, [clock(peer.incarnation)]),
      el("td", {}, [peer.self ? "now" : Math.max(0, Math.round((Date.now() - Date.parse(peer.lastSeen)) / 1000)) + " s ago"]),
      el("td", {}, [peer.digestMismatch ? el("span", { class: "error" }, ["differ"]) : "same"]),
    ])));
}

function renderOwnership(ownership) {
  document.getElementById("ownership-keyspace").textContent = ownership.keyspace || "";
  document.getElementById("ownership").replaceChildren(...ownership.shares.map((share) =>
    el("tr", { "data-owner": share.member }, [
      el("td", { class: "wrap" }, [el("span", { class: "id" }, [share.member])]),
      el("td", { class: "num" }, [(share.share * 100).toFixed(1) + "%"]),
      el("td", {}, [el("div", { class: "bar-track" }, [el("div", { class: "bar", style: "width:" + (share.share * 100).toFixed(1) + "%" })])]),
    ])));
}

function renderKeyspaces(keyspaces) {
  document.getElementById("keyspaces").replaceChildren(...keyspaces.map(({ name, stats }) => {
    const gets = stats.hits + stats.misses;
    return el("tr", { "data-keyspace": name }, [
      el("td", { class: "wrap" }, [name]),
      el("td", { class: "num" }, [formatCount(stats.entries)]),
      el("td", { class: "num" }, [formatBytes(stats.bytes) + " / " + formatBytes(stats.maxBytes)]),
      el("td", { class: "num" }, [gets ? ((stats.hits / gets) * 100).toFixed(1) + "%" : "–"]),
      el("td", { class: "num" }, [formatCount(stats.loads)]),
      el("td", { class: "num" }, [stats.loadErrors ? el("span", { class: "error" }, [formatCount(stats.loadErrors)]) : "0"]),
      el("td", { class: "num" }, [formatCount(stats.evictions)]),
      el("td", {}, [badge(stats.breakerState)]),
    ]);
  }));
  document.getElementById("keyspace-cards").replaceChildren(...keyspaces.map(({ name, config, stats }) =>
    el("section", { class: "card", "data-keyspace-card": name }, [
      el("h2", {}, [name, el("span", { class: "muted" }, [formatCount(stats.entries) + " entries · " + formatBytes(stats.bytes) + " of " + formatBytes(stats.maxBytes) + " · breaker"]), badge(stats.breakerState)]),
      el("div", { class: "charts" }, [
        chart("requests", "Requests / s", "rate", linesOf("requests:" + name, ["hits", "misses", "writes", "errors"])),
        chart("latency", "Get latency", "seconds", linesOf("latency:" + name, ["p50", "p99"])),
        config.dataSource
          ? chart("datasource", "Data-source loads / s", "rate", linesOf("datasource:" + name, ["loads", "errors"]))
          : chart("datasource", "Data-source loads / s", "rate", [], "no data source: misses stay misses"),
        chart("usage", "Hit rate and memory used", "percent", linesOf("usage:" + name, ["hit rate", "memory"])),
      ]),
    ])));
  const names = new Set(keyspaces.map(({ name }) => name));
  for (const id of history.keys()) if (id.includes(":") && !names.has(id.slice(id.indexOf(":") + 1))) history.delete(id);
}

/** Shows the cluster and session cards when they apply, side by side when both do. */
function renderSideCards(peers, samples) {
  const has = (name) => [...samples.values()].some((sample) => sample.name === name);
  const cards = [
    [document.getElementById("peer-card"), peers.length > 1 || has("distcache_peer_request_duration_seconds_count")],
    [document.getElementById("session-card"), has("distcache_session_operations_total")],
  ];
  const shown = cards.filter(([, show]) => show).length;
  for (const [card, show] of cards) {
    card.hidden = !show;
    card.classList.toggle("span-6", shown === 2);
  }
  if (!cards[0][0].hidden)
    document.getElementById("peer-charts").replaceChildren(
      chart("peer-requests", "Requests / s", "rate", linesOf("peer-requests", ["ok", "errors"])),
      chart("peer-latency", "Latency", "seconds", linesOf("peer-latency", ["p50", "p99"])),
    );
  if (!cards[1][0].hidden)
    document.getElementById("session-charts").replaceChildren(
      chart("sessions", "Operations / s", "rate", linesOf("sessions", ["ADD", "GET", "REMOVE", "HAVE"])),
      chart("session-lookups", "Session lookups (GET) / s", "rate", linesOf("session-lookups", ["found", "not found"])),
    );
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

async function getText(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.text();
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [peers, keyspaces, ownership, ready, metrics] = await Promise.all([
      getJson("peers"), getJson("keyspaces"), getJson("ownership"),
      fetch("ready", { cache: "no-store" }).then((response) => response.json()), getText("metrics"),
    ]);
    scrapes.push({ at: performance.now(), samples: parseMetrics(metrics) });
    if (scrapes.length > LATENCY_WINDOW + 1) scrapes.shift();
    recordPoints(keyspaces);
    renderMembers(peers);
    renderOwnership(ownership);
    renderKeyspaces(keyspaces);
    renderSideCards(peers, scrapes[scrapes.length - 1].samples);
    const readiness = document.getElementById("ready");
    readiness.className = "state " + (ready.ready ? "ready" : "not-ready");
    readiness.dataset.state = ready.ready ? "ready" : "not-ready";
    readiness.textContent = ready.ready ? "ready" : "not ready";
    status.className = "status";
    status.textContent = ready.state + " · " + ready.members + (ready.members === 1 ? " member" : " members") + " · updated " + clock(Date.now());
  } catch (error) {
    document.getElementById("ready").className = "state not-ready";
    document.getElementById("ready").textContent = "unreachable";
    status.className = "status error";
    status.textContent = "cannot reach the node: " + error.message;
  }
}
refresh();
setInterval(refresh, 1000);
`;
