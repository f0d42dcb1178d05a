/**
 * Assembles report.html: one self-contained file (inline CSS, inline SVG, one small inline
 * script; nothing loaded from anywhere) with accuracy per round, bytes per round, the
 * swimlane timeline and the scenario. The figures it drew are embedded as JSON in
 * `<script type="application/json" id="fedmkt-report-data">` for anyone who wants them back.
 */
import type { RoundMetrics } from '../../core/records.js';
import { describeCutShort } from '../../core/jsonl.js';
import { isPseudoActor } from '../../core/pseudo-actors.js';
import { clockLabel, type RunClock } from '../../core/run-clock.js';
import { plural } from '../../core/wording.js';
import { accuracyChart, accuracySeries, bytesChart, bytesPerRound, type AccuracySeries, type BytesRow } from './charts.js';
import type { RunData } from './read-run.js';
import { escapeXml, formatBytes, naturalCompare } from '../../core/format.js';
import { formatDuration } from './svg.js';
import { buildTimeline, type Timeline, type TimelineOptions } from './timeline.js';
import { coverageOf, type Coverage } from '../../core/explore/coverage.js';
import { coverageTable } from './coverage.js';

export interface ReportOptions extends TimelineOptions {
  /** Accuracy lines drawn one by one up to this many clients (default 40); beyond, bands. */
  maxSeries?: number;
}

/** What the report embeds, as `fedmkt-report-data`. */
export interface ReportData {
  format: 'fedmkt-report/1';
  run: string;
  actors: string[];
  roles: Record<string, string>;
  rounds: number[];
  /** metrics.jsonl, column-wise: every key seen, in first-seen order; missing values are null. */
  metrics: { columns: string[]; rows: unknown[][] };
  accuracy: AccuracySeries[];
  bytes: BytesRow[];
  faults: Record<string, number>;
  timeline: { aggregated: boolean; lanes: string[]; t0: number; t1: number; states: string[]; messageTypes: string[] };
  events: number;
  /** The run's clock; timeline times count from its origin. */
  clock: RunClock;
  /** Files whose last line was cut short (a run interrupted while writing). */
  cutShort: { file: string; line: number }[];
  /** How often each kind of fault met an actor in each state. */
  coverage: Coverage;
}

export function renderReport(run: RunData, options: ReportOptions = {}): { html: string; data: ReportData } {
  const roles = new Map<string, string>();
  for (const m of run.metrics) if (!roles.has(m.actor) || m.role === 'server') roles.set(m.actor, m.role);
  // Times from the run's start: a wall-clock run's epoch milliseconds made relative.
  const origin = run.clock.origin;
  const events = origin === 0 ? run.events : run.events.map((e) => ({ ...e, t: Number(e.t) - origin }));
  const timeLabel = `${clockLabel(run.clock.kind)} time`;
  const timeline = buildTimeline(events, roles, { timeLabel, ...options });
  const series = accuracySeries(run.metrics);
  const acc = accuracyChart(series, options.maxSeries ?? 40);
  const bytes = bytesPerRound(run.metrics);
  const actorSet = new Set([...timeline.actors, ...run.metrics.map((m) => m.actor)].filter((a) => !isPseudoActor(a)));
  const isServer = (a: string) => roles.get(a) === 'server' || (!roles.has(a) && a === 'server');
  const actors = [...actorSet].sort((a, b) => Number(isServer(b)) - Number(isServer(a)) || naturalCompare(a, b));
  for (const a of actors) if (!roles.has(a)) roles.set(a, isServer(a) ? 'server' : 'client');
  const rounds = [...new Set(run.metrics.map((m) => m.round))].sort((a, b) => a - b);
  const coverage = coverageOf(run.events);

  const data: ReportData = {
    format: 'fedmkt-report/1',
    run: run.name,
    actors,
    roles: Object.fromEntries(roles),
    rounds,
    metrics: columnar(run.metrics),
    accuracy: series,
    bytes,
    faults: timeline.faultCounts,
    timeline: {
      aggregated: timeline.aggregated,
      lanes: timeline.lanes,
      t0: timeline.t0,
      t1: timeline.t1,
      states: timeline.states,
      messageTypes: timeline.messageTypes,
    },
    events: run.events.length,
    clock: run.clock,
    cutShort: run.cutShort,
    coverage,
  };

  const summary = summaryLines(run, actors, actors.filter(isServer), rounds, timeline, timeLabel);

  const laneNote = timeline.aggregated
    ? `<p class="note">${actors.length} actors: the lanes show ${timeline.lanes.length} of them (${escapeXml(timeline.lanes.join(', '))}); below them, every client aggregated by state over time.</p>`
    : '';
  const accNote = acc.aggregated
    ? '<p class="note">Too many clients for one line each: the clients are drawn as bands (min to max, interquartile range) and their mean.</p>'
    : '';

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FedMKT run ${escapeXml(run.name)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>FedMKT run <code>${escapeXml(run.name)}</code></h1>
<ul class="summary">${summary.map((s) => `<li>${s}</li>`).join('')}</ul>
<nav><a href="#accuracy">Accuracy</a> · <a href="#bytes">Bytes</a> · <a href="#timeline">Timeline</a> · <a href="#coverage">Faults by state</a> · <a href="#metrics">Metrics</a> · <a href="#scenario">Scenario</a></nav>
</header>
<section id="accuracy">
<h2>Accuracy per round</h2>
${accNote}${acc.svg}
${acc.legend}
</section>
<section id="bytes">
<h2>Bytes per round, each way</h2>
<ul class="legend"><li><span class="sw box" style="background:#1e88e5"></span>clients → server</li><li><span class="sw box" style="background:#2e7d32"></span>server → clients</li></ul>
${bytesChart(bytes)}
${bytesTable(bytes)}
</section>
<section id="timeline">
<h2>Timeline</h2>
<p class="note">One lane per actor: states as coloured bars, messages as lines from the sender at send time to the receiver at delivery time, faults as markers. Hover for details.</p>
${laneNote}<div class="scroll">${timeline.svg}</div>
${timeline.legend}
</section>
<section id="coverage">
<h2>Faults by state</h2>
<p class="note">How often each kind of fault met an actor in each state in this run (the coverage table of <code>fedmkt explore</code>, for one run).</p>
${coverageTable(coverage)}
</section>
<section id="metrics">
<h2>Metrics</h2>
<label>Actor <select id="metrics-actor"></select></label>
<div class="scroll"><table id="metrics-table" class="num"></table></div>
<noscript><p class="note">The metrics table needs JavaScript; the figures are embedded in this file as JSON (fedmkt-report-data).</p></noscript>
</section>
<section id="scenario">
<h2>Scenario</h2>
${run.scenarioText === null ? '<p class="note">No scenario.yaml in the run directory.</p>' : `<pre>${escapeXml(run.scenarioText)}</pre>`}
</section>
<script type="application/json" id="fedmkt-report-data">${jsonForScript(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
  return { html, data };
}

/** The header's list: actors, rounds, events and their time span, fault markers, files cut short. */
function summaryLines(
  run: RunData,
  actors: readonly string[],
  servers: readonly string[],
  rounds: readonly number[],
  timeline: Timeline,
  timeLabel: string,
): string[] {
  const faultTotal = Object.values(timeline.faultCounts).reduce((s, v) => s + v, 0);
  const summary = [
    `${plural(actors.length, 'actor')} (${servers.length ? escapeXml(servers.join(', ')) : 'no server'} and ${plural(actors.length - servers.length, 'client')})`,
    `${rounds.length ? `rounds ${rounds[0]} to ${rounds[rounds.length - 1]}` : 'no rounds in metrics'}`,
    `${run.events.length} events over ${escapeXml(formatDuration(timeline.t1 - timeline.t0))} of ${timeLabel}${
      run.clock.kind === 'wall'
        ? ` (a run over NATS; times from its start at ${new Date(run.clock.origin).toISOString().replace('T', ' ').slice(0, 19)} UTC)`
        : ' (a local run: simulated time)'
    }`,
    `${plural(faultTotal, 'fault marker')}${
      faultTotal
        ? ` (${Object.entries(timeline.faultCounts)
            .map(([k, v]) => `${escapeXml(k)} ${v}`)
            .join(', ')})`
        : ''
    }`,
  ];
  for (const c of run.cutShort) summary.push(`<strong>${escapeXml(describeCutShort(c.file, c.line))}</strong>: the report shows what was recorded up to there`);
  if (run.badLines) summary.push(`${plural(run.badLines, 'unreadable line')} skipped`);
  return summary;
}

/** Bytes per round as a table under the chart (exact counts on hover). */
function bytesTable(bytes: readonly BytesRow[]): string {
  if (bytes.length === 0) return '';
  const cell = (n: number) => `<td title="${n} bytes">${formatBytes(n)}</td>`;
  const rows = bytes.map((r) => `<tr><td>${r.round}</td>${cell(r.up)}${cell(r.down)}${cell(r.serverSent)}${cell(r.serverReceived)}</tr>`).join('');
  return `<table class="num"><thead><tr><th>round</th><th>clients → server</th><th>server → clients</th><th>server sent</th><th>server received</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function columnar(metrics: readonly RoundMetrics[]): { columns: string[]; rows: unknown[][] } {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const m of metrics)
    for (const k of Object.keys(m))
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
  return { columns, rows: metrics.map((m) => columns.map((c) => (m[c] === undefined ? null : m[c]))) };
}

/** JSON that cannot close its script element: every `<` is escaped. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Reads the data a report embeds (for tests and tools). */
export function extractReportData(html: string): ReportData {
  const m = html.match(/<script type="application\/json" id="fedmkt-report-data">([\s\S]*?)<\/script>/);
  if (!m) throw new Error('no fedmkt-report-data in this report');
  return JSON.parse(m[1]!) as ReportData;
}

const CSS = `
:root{--ink:#263238;--muted:#607d8b;--line:#cfd8dc}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:16px 24px 48px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;color:var(--ink);background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h4{margin:8px 0 4px;font-size:13px}
code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}
pre{background:#f5f7f8;border:1px solid var(--line);padding:12px;overflow:auto;font-size:12px}
nav a{color:#1565c0;text-decoration:none}
.summary{margin:4px 0 8px;padding-left:18px;color:var(--muted)}
.note{color:var(--muted);font-size:13px;margin:4px 0}
.empty{color:var(--muted);font-style:italic}
svg.chart{width:100%;max-width:900px;height:auto;display:block}
svg.tl{width:100%;min-width:900px;height:auto;display:block}
.scroll{overflow-x:auto}
svg text{font-family:system-ui,'DejaVu Sans',Arial,sans-serif}
.tick{font-size:10px;fill:var(--muted)}.axis{font-size:11px;fill:var(--ink)}
.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.legend li{display:flex;align-items:center;gap:5px}
.sw{display:inline-block;width:20px;height:0;border-top:3px solid}
.sw.dash{border-top-style:dashed}.sw.box,.sw.band{height:11px;border:1px solid #0002;width:14px}
.legends{display:flex;flex-wrap:wrap;gap:0 40px}
.glyph{vertical-align:middle}
table.num{border-collapse:collapse;font-size:12px;margin:8px 0}
table.num th,table.num td{border:1px solid var(--line);padding:2px 8px;text-align:right;white-space:nowrap}
table.num th{background:#f5f7f8}
table.coverage td.none{color:#c62828}
table.coverage td.na{color:#bbb}
table.coverage tbody th{text-align:left}
.tl .lane{font-size:11px;fill:var(--ink)}.tl .lane.server{font-weight:bold}
.tl .lanebg{fill:#f7f9fa}
.tl .grid{stroke:#eceff1;stroke-width:1}
.tl .round{stroke:#90a4ae;stroke-dasharray:3 3}
.tl .roundlabel{font-size:10px;fill:#546e7a}
.tl .heading{font-size:12px;font-weight:bold;fill:var(--ink)}
.tl .msgs line{stroke-width:.8;opacity:.65}
.tl .rate{fill:none;stroke-width:1.3}
.tl .faultline{stroke:#d50000;stroke-width:.9;stroke-dasharray:3 2}
.tl .undelivered{fill:#fff;stroke:#d50000;stroke-width:1}
.tl .fb{fill-opacity:.75}
.tl .gap{fill:#ffffff;fill-opacity:.72;stroke:#90a4ae;stroke-dasharray:2 2}
.tl .gaplabel{font-size:10px;fill:#78909c}
`;

const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('fedmkt-report-data').textContent);
  var select = document.getElementById('metrics-actor');
  var table = document.getElementById('metrics-table');
  var cols = data.metrics.columns, rows = data.metrics.rows, ai = cols.indexOf('actor');
  data.actors.forEach(function (a) {
    var o = document.createElement('option');
    o.value = a; o.textContent = a + ' (' + (data.roles[a] || '') + ')';
    select.appendChild(o);
  });
  function cell(tag, text) { var c = document.createElement(tag); c.textContent = text; return c; }
  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  function render() {
    table.textContent = '';
    var head = document.createElement('tr');
    cols.forEach(function (c) { head.appendChild(cell('th', c)); });
    table.appendChild(head);
    rows.forEach(function (r) {
      if (r[ai] !== select.value) return;
      var tr = document.createElement('tr');
      r.forEach(function (v) { tr.appendChild(cell('td', fmt(v))); });
      table.appendChild(tr);
    });
  }
  select.addEventListener('change', render);
  render();
})();
`;
