/**
 * The live page's script: follows /events (Server-Sent Events, one snapshot at a time) and draws
 * the latest snapshot once per animation frame, however many arrive. Bundled by ../page-script.ts
 * when the live server starts; test/live/browser.test.ts drives it in Chromium through
 * `window.fedmktLive`.
 */
import type { ActorRow, LiveChartDrawing, LiveSnapshot } from '../snapshot.js';
import { highlight, setupChart, type Chart } from './charts.js';
import { $, setStatus } from './dom.js';
import { dur, nowT } from './format.js';
import { renderActors, renderMessages, renderRound, type PanelContext } from './panels.js';
import { renderWire } from './wire.js';

declare global {
  interface Window {
    /** What the page has received and drawn, for tests. */
    fedmktLive: { snapshots: number; renders: number; last: LiveSnapshot | null; chartsReady: boolean };
  }
}

const charts: { server: Chart | null; client: Chart | null } = { server: null, client: null };
let latest: LiveSnapshot | null = null;
let receivedAt = 0;
let scheduled = false;
let ended = false;
let snapshots = 0;
let focus: string | null = null;
let focusRow: ActorRow | null = null;
const rates: Array<[number, number]> = [];
window.fedmktLive = { snapshots: 0, renders: 0, last: null, chartsReady: false };

const panels: PanelContext = {
  now: 0,
  get focus() {
    return focus;
  },
  setFocus,
  focusRowSeen(row) {
    focusRow = row;
  },
};

function render(): void {
  scheduled = false;
  const s = latest;
  if (!s) return;
  window.fedmktLive.renders++;
  document.body.setAttribute('data-seq', String(s.seq));
  $('title').textContent = s.title;
  document.title = `FedMKT live: ${s.title}`;
  if (s.ended) setStatus('run ended', 'ended');
  else if (!ended) setStatus('live', 'live');
  const now = nowT(s, receivedAt);
  $('clock').textContent = clockLine(s, now);
  renderRound(s, now);
  panels.now = now;
  renderActors(s, panels);
  renderCharts(s);
  renderMessages(s);
  renderWire(s, receivedAt);
}

/** The clock line: event time, events so far and their rate over the last 3 s. */
function clockLine(s: LiveSnapshot, now: number): string {
  rates.push([Date.now(), s.events]);
  while (rates.length > 2 && (rates[0]?.[0] ?? 0) < Date.now() - 3000) rates.shift();
  const first = rates[0];
  const last = rates[rates.length - 1];
  const rate = first && last && rates.length > 1 ? (last[1] - first[1]) / Math.max(0.001, (last[0] - first[0]) / 1000) : 0;
  const clock =
    s.clock === 'wall'
      ? `wall clock: ${dur(now)} since the run started`
      : `virtual clock (simulated): ${dur(now)} · wall ${dur(s.wall)} since the view started`;
  const events = ` · ${s.events.toLocaleString('en')} events${rate > 0 && !s.ended ? ` (${Math.round(rate).toLocaleString('en')}/s)` : ''}`;
  return clock + events + (s.ended?.text ? ` · ${s.ended.text}` : '');
}

function renderCharts(s: LiveSnapshot): void {
  const server = s.actors.rows.find((r) => r.role === 'server');
  highlight(charts.server, server ? server.state : null, null, Boolean(server?.down));
  $('server-state').textContent = server ? `${server.down ? 'offline at ' : ''}${server.state} · round ${server.round}` : '';
  const f = focusRow && focusRow.role === 'client' ? focusRow : null;
  highlight(charts.client, f ? f.state : null, s.counts.client, Boolean(f?.down));
  $('focus-name').textContent = f ? f.id : '';
  $('client-state').textContent = f ? `${f.down ? 'offline at ' : ''}${f.state} · round ${f.round}` : '';
}

function setFocus(id: string, quiet?: boolean): void {
  focus = id;
  $('focus-input', HTMLInputElement).value = id;
  focusRow = latest?.actors.rows.find((r) => r.id === id) ?? null;
  if (!focusRow) fetchFocus();
  if (!quiet) schedule();
}

/** The focused actor's row from the server, when the snapshot's sample leaves it out. */
function fetchFocus(): void {
  if (focus === null) return;
  const want = focus;
  fetch(`/actor.json?id=${encodeURIComponent(want)}`)
    .then((r) => (r.ok ? (r.json() as Promise<ActorRow | null>) : null))
    .then((row) => {
      if (want === focus && row) {
        focusRow = row;
        schedule();
      }
    })
    .catch(() => {});
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

$('focus-input', HTMLInputElement).addEventListener('change', (e) => {
  const v = e.target instanceof HTMLInputElement ? e.target.value.trim() : '';
  if (v) setFocus(v);
});
// Between snapshots (a run on a real clock, fading message lines): repaint a few times a second.
setInterval(() => {
  if (latest && !ended) schedule();
  if (focus !== null && latest && !latest.actors.detailed && !latest.actors.rows.some((r) => r.id === focus)) fetchFocus();
}, 500);

fetch('/charts.json')
  .then((r) => r.json() as Promise<{ server?: LiveChartDrawing; client?: LiveChartDrawing }>)
  .then((defs) => {
    if (!defs.server && !defs.client) $('charts-panel').hidden = true;
    else {
      charts.server = setupChart('server', defs.server);
      charts.client = setupChart('client', defs.client);
    }
    window.fedmktLive.chartsReady = true;
    schedule();
  })
  .catch(() => {
    $('charts-panel').hidden = true;
  });

const es = new EventSource('/events');
es.addEventListener('open', () => {
  if (!ended) setStatus('live', 'live');
});
es.addEventListener('snapshot', (e) => {
  latest = JSON.parse(e.data) as LiveSnapshot;
  receivedAt = Date.now();
  snapshots++;
  window.fedmktLive.snapshots = snapshots;
  window.fedmktLive.last = latest;
  schedule();
});
es.addEventListener('end', () => {
  ended = true;
  es.close();
  // The final snapshot came just before: draw it now, then say the run is over.
  render();
  setStatus('run ended', 'ended');
});
es.addEventListener('error', () => {
  if (!ended) setStatus('reconnecting…', 'wait');
});
