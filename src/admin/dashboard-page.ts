/**
 * The admin dashboard: one self-contained page (no CDN, no build step) that
 * polls the admin JSON endpoints every second and draws members, key
 * ownership, per-keyspace hit rate and bytes over the last two minutes, and
 * breaker states.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distcache</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #e3e6ee; --ok: #1f9d55; --warn: #d98e04; --bad: #d64545; --accent: #3d6fd9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f7fb; }
  header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; }
  header .status { color: var(--muted); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  section h2 { margin: 0 0 10px; font-size: 15px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; }
  .state { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; color: #fff; background: var(--muted); }
  .state.alive, .state.closed { background: var(--ok); }
  .state.suspect, .state.half-open { background: var(--warn); }
  .state.dead, .state.left, .state.open { background: var(--bad); }
  .bar { height: 10px; background: var(--accent); border-radius: 3px; }
  .muted { color: var(--muted); }
  svg { width: 100%; height: 90px; display: block; background: #fafbfd; border: 1px solid var(--line); border-radius: 4px; }
  .chart-label { font-size: 12px; color: var(--muted); margin: 6px 0 2px; }
  .error { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>distcache</h1>
  <span class="status" id="status">connecting…</span>
</header>
<main>
  <section>
    <h2>Members <span class="muted">(<span id="members-count">0</span> alive)</span></h2>
    <table>
      <thead><tr><th>node</th><th>state</th><th>incarnation</th><th>keyspaces</th></tr></thead>
      <tbody id="members"></tbody>
    </table>
  </section>
  <section>
    <h2>Key ownership <span class="muted" id="ownership-keyspace"></span></h2>
    <table>
      <thead><tr><th>node</th><th>share</th><th style="width:50%"></th></tr></thead>
      <tbody id="ownership"></tbody>
    </table>
  </section>
  <section style="grid-column: 1 / -1">
    <h2>Keyspaces</h2>
    <table>
      <thead><tr><th>keyspace</th><th>entries</th><th>bytes / max</th><th>hit rate</th><th>loads</th><th>load errors</th><th>evictions</th><th>breaker</th></tr></thead>
      <tbody id="keyspaces"></tbody>
    </table>
    <div id="charts"></div>
  </section>
</main>
<script>
"use strict";
const HISTORY = 120;
const history = new Map();
const text = (value) => document.createTextNode(String(value));
const el = (tag, attributes, children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children || []) node.append(typeof child === "string" || typeof child === "number" ? text(child) : child);
  return node;
};
const badge = (state) => el("span", { class: "state " + state, "data-state": state }, [state]);
const formatBytes = (bytes) => bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MiB" : bytes >= 1024 ? (bytes / 1024).toFixed(1) + " KiB" : bytes + " B";

function sparkline(points, max, label) {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 " + HISTORY + " 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(svgNs, "polyline");
  const top = max || Math.max(1, ...points);
  if (points.length === 1) points = [points[0], points[0]];
  line.setAttribute("points", points.map((value, i) => (HISTORY - points.length + i) + "," + (100 - (value / top) * 96 - 2)).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#3d6fd9");
  line.setAttribute("stroke-width", "1.5");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return svg;
}

function renderMembers(peers) {
  const alive = peers.filter((peer) => peer.state === "alive" && peer.admitted);
  document.getElementById("members-count").textContent = String(alive.length);
  document.getElementById("members").replaceChildren(...peers.map((peer) =>
    el("tr", { "data-member": peer.id }, [
      el("td", {}, [peer.id + (peer.self ? " (this node)" : "")]),
      el("td", {}, [badge(peer.state)]),
      el("td", {}, [peer.incarnation]),
      el("td", {}, [peer.digestMismatch ? el("span", { class: "error" }, ["differ"]) : "same"]),
    ])));
}

function renderOwnership(ownership) {
  document.getElementById("ownership-keyspace").textContent = ownership.keyspace ? "(" + ownership.keyspace + ")" : "";
  document.getElementById("ownership").replaceChildren(...ownership.shares.map((share) =>
    el("tr", { "data-owner": share.member }, [
      el("td", {}, [share.member]),
      el("td", {}, [(share.share * 100).toFixed(1) + "%"]),
      el("td", {}, [el("div", { class: "bar", style: "width:" + (share.share * 100).toFixed(1) + "%" })]),
    ])));
}

function renderKeyspaces(keyspaces) {
  const rows = [];
  const charts = [];
  for (const { name, stats } of keyspaces) {
    const previous = history.get(name) || { hits: stats.hits, misses: stats.misses, hitRate: [], bytes: [] };
    const gets = stats.hits - previous.hits + stats.misses - previous.misses;
    const hitRate = gets > 0 ? (stats.hits - previous.hits) / gets : (previous.hitRate.at(-1) || 0);
    const entry = { hits: stats.hits, misses: stats.misses, hitRate: [...previous.hitRate, hitRate].slice(-HISTORY), bytes: [...previous.bytes, stats.bytes].slice(-HISTORY) };
    history.set(name, entry);
    const total = stats.hits + stats.misses;
    rows.push(el("tr", { "data-keyspace": name }, [
      el("td", {}, [name]),
      el("td", {}, [stats.entries]),
      el("td", {}, [formatBytes(stats.bytes) + " / " + formatBytes(stats.maxBytes)]),
      el("td", {}, [total ? ((stats.hits / total) * 100).toFixed(1) + "%" : "–"]),
      el("td", {}, [stats.loads]),
      el("td", {}, [stats.loadErrors]),
      el("td", {}, [stats.evictions]),
      el("td", {}, [badge(stats.breakerState)]),
    ]));
    charts.push(el("div", {}, [
      el("div", { class: "chart-label" }, [name + ": hit rate per second (0–100%)"]), sparkline(entry.hitRate, 1, name + " hit rate"),
      el("div", { class: "chart-label" }, [name + ": bytes (max " + formatBytes(stats.maxBytes) + ")"]), sparkline(entry.bytes, stats.maxBytes, name + " bytes"),
    ]));
  }
  document.getElementById("keyspaces").replaceChildren(...rows);
  document.getElementById("charts").replaceChildren(...charts);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

async function refresh() {
  try {
    const [peers, keyspaces, ownership, ready] = await Promise.all([getJson("peers"), getJson("keyspaces"), getJson("ownership"), fetch("ready", { cache: "no-store" }).then((r) => r.json())]);
    renderMembers(peers.length ? peers : [{ id: "this node (standalone)", state: "alive", admitted: true, incarnation: "–", self: true, digestMismatch: false }]);
    renderOwnership(ownership);
    renderKeyspaces(keyspaces);
    document.getElementById("status").textContent = (ready.ready ? "ready" : "not ready") + " · " + ready.state + " · updated " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("status").textContent = "cannot reach the node: " + error.message;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
