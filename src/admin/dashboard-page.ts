import { DASHBOARD_METRICS_SCRIPT } from './dashboard-metrics.js';
import { DASHBOARD_RENDER_SCRIPT } from './dashboard-render.js';

const STYLE = `
  :root { --fg: #1b2130; --muted: #667085; --line: #e4e7ee; --bg: #f4f6fa; --card: #fff;
          --ok: #1a8a4a; --warn: #c98000; --bad: #d03c3c; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; padding: 12px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; letter-spacing: -0.01em; }
  .node-id { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--muted); overflow-wrap: anywhere; }
  .status { color: var(--muted); }
  #ready { margin-left: auto; }
  .status.error { color: var(--bad); font-weight: 600; }
  main { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 16px; padding: 16px 24px 24px; max-width: 1920px; margin: 0 auto; }
  .card { grid-column: span 12; min-width: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  .span-8 { grid-column: span 8; } .span-6 { grid-column: span 6; } .span-4 { grid-column: span 4; }
  @media (max-width: 1100px) { .span-8, .span-6, .span-4 { grid-column: span 12; } }
  .card h2 { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; margin: 0 0 10px; font-size: 15px; }
  .card h2 .muted { font-size: 13px; font-weight: 400; }
  .cards { grid-column: span 12; display: grid; gap: 16px; min-width: 0; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: middle; }
  th { color: var(--muted); font-weight: 500; font-size: 13px; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.wrap { white-space: normal; overflow-wrap: anywhere; }
  tr:last-child td { border-bottom: none; }
  .id { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
  .tag { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; font: 11px/18px system-ui, sans-serif; color: var(--accent); background: #e8effc; white-space: nowrap; }
  .state { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; line-height: 20px; color: #fff; background: var(--muted); }
  .state.alive, .state.closed, .state.ready { background: var(--ok); }
  .state.suspect, .state.half-open { background: var(--warn); }
  .state.dead, .state.left, .state.open, .state.not-ready { background: var(--bad); }
  .state.disabled { background: #98a2b3; }
  .bar-track { height: 10px; background: #eef1f6; border-radius: 3px; min-width: 60px; }
  .bar { height: 10px; background: var(--accent); border-radius: 3px; }
  .muted { color: var(--muted); }
  .error { color: var(--bad); font-weight: 600; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 14px 20px; }
  .chart { min-width: 0; }
  .chart-head { font-size: 12px; margin-bottom: 6px; }
  .chart-title { display: block; font-weight: 600; font-size: 13px; }
  /* Room for two lines of legend, so that the plots of a row line up whatever their legends. */
  .legend { display: flex; flex-wrap: wrap; align-content: flex-start; gap: 0 12px; min-height: 35px; color: var(--muted); font-variant-numeric: tabular-nums; }
  .legend i { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
  .plot { position: relative; height: 110px; margin-left: 56px; border-left: 1px solid var(--line); border-bottom: 1px solid var(--line); }
  .plot svg { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
  .tick { position: absolute; right: calc(100% + 6px); transform: translateY(-50%); font-size: 11px; color: var(--muted); white-space: nowrap; }
  .x-axis { display: flex; justify-content: space-between; margin-left: 56px; font-size: 11px; color: var(--muted); }
  .empty { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; font-size: 12px; color: var(--muted); }
`;

/**
 * The admin dashboard: one self-contained page (no CDN, no build step, works
 * offline) that polls the admin endpoints and `/metrics` every second. It
 * shows the members and key ownership, each keyspace's counters, and over
 * the last two minutes, per keyspace: request rate by kind, get latency p50
 * and p99, data-source loads and errors, hit rate and memory; in a cluster,
 * requests to other nodes and their latency; with the session listener, its
 * operations per second. Charts are inline SVG.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distcache</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>distcache</h1>
  <span class="node-id" id="self"></span>
  <span class="state" id="ready" data-state="unknown">…</span>
  <span class="status" id="status">connecting…</span>
</header>
<main>
  <section class="card span-8">
    <h2>Members <span class="muted"><span id="members-count">0</span> alive</span></h2>
    <table>
      <thead><tr><th>node</th><th>state</th><th>started</th><th>last seen</th><th>keyspace definitions</th></tr></thead>
      <tbody id="members"></tbody>
    </table>
  </section>
  <section class="card span-4">
    <h2>Key ownership <span class="muted" id="ownership-keyspace"></span></h2>
    <table>
      <thead><tr><th>node</th><th class="num">share</th><th style="width:40%"></th></tr></thead>
      <tbody id="ownership"></tbody>
    </table>
  </section>
  <section class="card">
    <h2>Keyspaces</h2>
    <table>
      <thead><tr><th>keyspace</th><th class="num">entries</th><th class="num">bytes / max</th><th class="num">hit rate</th><th class="num">loads</th><th class="num">load errors</th><th class="num">evictions</th><th>breaker</th></tr></thead>
      <tbody id="keyspaces"></tbody>
    </table>
  </section>
  <section class="card" id="peer-card" hidden>
    <h2>Requests to other nodes <span class="muted">all message types</span></h2>
    <div class="charts" id="peer-charts"></div>
  </section>
  <section class="card" id="session-card" hidden>
    <h2>Session listener <span class="muted">distcache protocol</span></h2>
    <div class="charts" id="session-charts"></div>
  </section>
  <div class="cards" id="keyspace-cards"></div>
</main>
<script>
"use strict";
${DASHBOARD_METRICS_SCRIPT}
${DASHBOARD_RENDER_SCRIPT}
</script>
</body>
</html>
`;
