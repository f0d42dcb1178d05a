/**
 * The live page: one self-contained HTML document (inline CSS and script, system fonts,
 * nothing loaded from anywhere but this server's /charts.json and /events). It renders the
 * latest snapshot once per animation frame, however many arrive, and never draws more than
 * the snapshot holds (a sample of actors beyond the detail limit, a bounded message list).
 */
import { CLIENT_STATES, CLIENT_TRANSIENT_STATES, SERVER_STATES, SERVER_TRANSIENT_STATES } from '../faults/states.js';
import { MESSAGE_TYPES } from '../protocol/messages.js';
import { esc, messageColour, stateColour } from '../report/svg.js';

const KNOWN_STATES = ['starting', ...new Set([...CLIENT_STATES, ...CLIENT_TRANSIENT_STATES, ...SERVER_STATES, ...SERVER_TRANSIENT_STATES])];
const KNOWN_MESSAGES = MESSAGE_TYPES;

/** JSON that cannot close its script element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function livePage(title: string): string {
  const config = {
    stateColours: Object.fromEntries(KNOWN_STATES.map((s) => [s, stateColour(s)])),
    messageColours: Object.fromEntries(KNOWN_MESSAGES.map((m) => [m, messageColour(m)])),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>FedMKT live: ${esc(title)}</title>
<style>${CSS}</style>
</head>
<body data-seq="0">
<header>
<h1>FedMKT live <code id="title">${esc(title)}</code> <span id="status" class="pill wait">connecting…</span></h1>
<div id="clock" class="muted"></div>
</header>
<main>
<section id="round-panel">
<h2>Round <span id="round-no">–</span></h2>
<div id="phase" class="muted">waiting for the server…</div>
<div class="meter" id="uploads"><div class="fill"></div><div class="mark" title="quorum"></div><span class="label"></span></div>
<div class="meter" id="deadline"><div class="fill"></div><span class="label"></span></div>
<div id="outcome"></div>
<table id="rounds" class="grid"><thead><tr><th>round</th><th>started</th><th>took</th><th>uploads</th><th>quorum</th><th>messages</th><th>faults</th></tr></thead><tbody></tbody></table>
</section>
<section id="actors-panel">
<h2>Actors <span id="actor-count" class="muted"></span></h2>
<div id="counts"><div class="stack"></div><ul class="legend"></ul></div>
<p id="sample-note" class="muted" hidden></p>
<label class="muted">focus <input id="focus-input" list="focus-list" placeholder="actor id" size="12"></label><datalist id="focus-list"></datalist>
<div class="scroll"><table id="actors" class="grid"><thead><tr><th>actor</th><th>round</th><th>state</th><th>in state</th><th>deadline</th><th>sent</th><th>recv</th><th>faults</th></tr></thead><tbody></tbody></table></div>
</section>
<section id="charts-panel">
<h2>Statecharts</h2>
<p class="muted">Server: its current state. Client: how many clients are in each state (badges); <span class="key active"></span> the focused client.</p>
<div class="charts">
<div class="chart-box"><h3>server <span id="server-state" class="muted"></span></h3><div id="chart-server" class="chart"></div></div>
<div class="chart-box"><h3>client <span id="focus-name"></span> <span id="client-state" class="muted"></span></h3><div id="chart-client" class="chart"></div></div>
</div>
</section>
<section id="messages-panel">
<h2>Messages</h2>
<div id="kinds" class="chips"></div>
<svg id="wire" class="wire" viewBox="0 0 640 240" preserveAspectRatio="xMinYMin meet" role="img" aria-label="messages in flight"></svg>
<div class="cols">
<div><h3>Recent messages</h3><div class="scroll tall"><table id="messages" class="grid small"><thead><tr><th>t</th><th>what</th><th>type</th><th>from → to</th><th>bytes</th><th>marks</th></tr></thead><tbody></tbody></table></div></div>
<div><h3>Faults and decisions</h3><div class="scroll tall"><table id="faults" class="grid small"><thead><tr><th>t</th><th>what</th><th>type</th><th>from → to</th><th>detail</th></tr></thead><tbody></tbody></table></div></div>
</div>
</section>
</main>
<script type="application/json" id="live-config">${jsonForScript(config)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const CSS = `
:root{--ink:#263238;--muted:#607d8b;--line:#cfd8dc;--accent:#f57f17}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1500px;padding:10px 20px 40px;font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;color:var(--ink);background:#fff}
h1{font-size:20px;margin:6px 0}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid var(--line);padding-bottom:3px}h3{font-size:13px;margin:6px 0}
code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}
.muted{color:var(--muted)}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.4fr);gap:0 28px}
#charts-panel,#messages-panel{grid-column:1/-1}
.pill{display:inline-block;font-size:12px;font-weight:normal;padding:1px 8px;border-radius:10px;vertical-align:middle;background:#eceff1}
.pill.live{background:#c8e6c9;color:#1b5e20}.pill.ended{background:#e3f2fd;color:#0d47a1}.pill.wait{background:#fff3e0;color:#e65100}
.meter{position:relative;height:22px;background:#eceff1;border-radius:4px;margin:6px 0;overflow:hidden}
.meter .fill{position:absolute;left:0;top:0;bottom:0;width:0;background:#64b5f6;transition:width .15s}
.meter .mark{position:absolute;top:0;bottom:0;width:2px;background:#6a1b9a;display:none}
.meter .label{position:relative;padding-left:8px;line-height:22px;font-size:12px}
#deadline .fill{background:#ffcc80}#deadline.late .fill{background:#ef9a9a}
#uploads.met .fill{background:#81c784}
table.grid{border-collapse:collapse;margin:6px 0;width:100%}
table.grid th,table.grid td{border-bottom:1px solid #eceff1;padding:2px 6px;text-align:left;white-space:nowrap}
table.grid th{background:#f5f7f8;font-weight:600;position:sticky;top:0}
table.small{font-size:12px}
table.small td:last-child{white-space:normal;overflow-wrap:anywhere;min-width:12em}
#actors tbody tr{cursor:pointer}#actors tbody tr:hover{background:#f5f7f8}#actors tr.focus{background:#fff8e1}
tr.down td{color:#b71c1c}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px;border:1px solid #0002}
.scroll{overflow:auto;max-height:420px}.scroll.tall{max-height:320px}
.stack{display:flex;height:18px;border-radius:3px;overflow:hidden;background:#eceff1;margin:4px 0}
.stack span{display:block;height:100%}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:2px 12px;font-size:12px}
.charts{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
.chart{overflow:auto;border:1px solid var(--line);border-radius:6px;max-height:760px}
.chart svg{display:block;max-width:100%;height:auto}
.chart g.state > rect:first-of-type{transition:fill .15s}
.chart g.state.occupied > rect:first-of-type{fill:#e3f2fd;stroke:#1565c0;stroke-width:2px}
.chart g.state.active > rect:first-of-type{fill:#fff59d;stroke:var(--accent);stroke-width:3.5px}
.chart g.state.compound.within > rect:first-of-type{stroke:var(--accent);stroke-width:2.5px}
.chart g.state.offline > rect:first-of-type{stroke:#b71c1c;stroke-dasharray:5 3;stroke-width:3px}
.chart .badge rect{fill:#1565c0}.chart .badge text{fill:#fff;font-size:11px;font-weight:bold}
.chart .badge.focus rect{fill:var(--accent)}
.key{display:inline-block;width:12px;height:12px;vertical-align:-2px;border-radius:2px}.key.active{background:#fff59d;border:2px solid var(--accent)}
.chips{display:flex;flex-wrap:wrap;gap:4px 8px;font-size:12px;margin:4px 0}
.chip{padding:0 6px;border-radius:8px;background:#eceff1}.chip.fault{background:#ffebee;color:#b71c1c}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
.wire{width:100%;max-width:900px;height:auto;display:block;border:1px solid var(--line);border-radius:6px;background:#fafbfc}
.wire text{font-size:10px;fill:var(--ink)}
.k{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;background:#eceff1}
.k.drop,.k.corrupt,.k.reject,.k.crash,.k.dropout,.k.partition{background:#ffcdd2;color:#b71c1c}
.k.delay,.k.reorder,.k.deadline,.k.straggler{background:#ffe0b2;color:#e65100}
.k.duplicate,.k.again{background:#bbdefb;color:#0d47a1}
.k.ignored{background:#e0e0e0;color:#424242}.k.quorum{background:#e1bee7;color:#4a148c}
.k.restart,.k.rejoin{background:#c8e6c9;color:#1b5e20}
.k.deliver{background:#e8f5e9}.k.send{background:#f1f8e9}
.mk{margin-right:3px}
@media (max-width:1000px){main,.charts,.cols{grid-template-columns:1fr}}
`;

// Plain ES2017 for the browser; no template literals inside (this file is one).
const SCRIPT = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('live-config').textContent);
  var SVGNS = 'http://www.w3.org/2000/svg';
  var charts = {};
  var latest = null, receivedAt = 0, scheduled = false, ended = false, snapshots = 0;
  var focus = null, focusRow = null, focusTimer = null;
  var rates = [];
  window.fedmktLive = { snapshots: 0, renders: 0, last: null, chartsReady: false };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (children) children.forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function hash(text) {
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    return h >>> 0;
  }
  function stateColour(s) { return config.stateColours[s] || (s === 'offline' ? '#b71c1c' : 'hsl(' + (hash(s) % 360) + ' 55% 62%)'); }
  function messageColour(t) { return config.messageColours[t] || 'hsl(' + (hash(t) % 360) + ' 60% 40%)'; }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function dur(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '';
    var neg = ms < 0; ms = Math.abs(ms);
    var out;
    if (ms < 1000) out = Math.round(ms) + ' ms';
    else if (ms < 120000) out = (Math.round(ms / 100) / 10) + ' s';
    else {
      var s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      out = (h > 0 ? h + ':' + pad2(m) : String(m)) + ':' + pad2(s % 60);
    }
    return (neg ? '−' : '') + out;
  }
  function bytes(b) {
    if (b === null || b === undefined) return '';
    if (b < 1024) return b + ' B';
    if (b < 1048576) return (Math.round(b / 102.4) / 10) + ' KiB';
    return (Math.round(b / 104857.6) / 10) + ' MiB';
  }
  function kindBadge(k) { return el('span', { cls: 'k ' + k, text: k }); }
  function replaceBody(table, rows) {
    var body = table.tBodies[0];
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.textContent = '';
    body.appendChild(frag);
  }
  function setStatus(text, cls) { var s = $('status'); s.textContent = text; s.className = 'pill ' + cls; }
  /** Event time now: the latest event's, moved on by the wall clock for runs on a real clock. */
  function nowT(s) { return s.now + (s.clock === 'wall' && !s.ended ? Date.now() - receivedAt : 0); }

  // ---- statecharts
  function setupChart(name, def) {
    var box = $('chart-' + name);
    if (!def) { box.textContent = 'no statechart'; return; }
    box.innerHTML = def.svg;
    var root = box.querySelector('svg');
    var nodes = {}, badges = {};
    box.querySelectorAll('g.state[data-id]').forEach(function (g) { nodes[g.getAttribute('data-id')] = g; });
    var layer = svg('g', { 'class': 'badges' });
    Object.keys(def.stateIds).forEach(function (state) {
      var id = def.stateIds[state], g = nodes[id];
      if (!g || g.classList.contains('compound')) return;
      var r = g.querySelector('rect');
      var x = Number(r.getAttribute('x')) + Number(r.getAttribute('width')), y = Number(r.getAttribute('y'));
      var b = svg('g', { 'class': 'badge', transform: 'translate(' + (x - 8) + ',' + (y - 8) + ')', visibility: 'hidden' });
      b.appendChild(svg('rect', { x: -14, y: -8, width: 28, height: 16, rx: 8 }));
      var t = svg('text', { x: 0, y: 4, 'text-anchor': 'middle' });
      b.appendChild(t);
      layer.appendChild(b);
      badges[id] = { g: b, rect: b.firstChild, text: t, value: -1 };
    });
    root.appendChild(layer);
    charts[name] = { def: def, box: box, nodes: nodes, badges: badges, marked: [], lastActive: null };
  }
  function idOf(chart, state) { return chart.def.stateIds[state] || null; }
  function highlight(name, state, counts, offline) {
    var c = charts[name];
    if (!c) return;
    c.marked.forEach(function (g) { g.classList.remove('active', 'within', 'offline', 'occupied'); });
    c.marked = [];
    function mark(id, cls) { var g = c.nodes[id]; if (g) { g.classList.add(cls); c.marked.push(g); } }
    if (counts) {
      var seen = {};
      Object.keys(counts).forEach(function (s) {
        var id = idOf(c, s);
        if (!id) return;
        seen[id] = counts[s];
        mark(id, 'occupied');
      });
      Object.keys(c.badges).forEach(function (id) {
        var b = c.badges[id], v = seen[id] || 0;
        if (v === b.value) return;
        b.value = v;
        b.g.setAttribute('visibility', v > 0 ? 'visible' : 'hidden');
        b.text.textContent = String(v);
        var w = Math.max(20, 8 + 7 * String(v).length);
        b.rect.setAttribute('width', w); b.rect.setAttribute('x', -w / 2);
      });
    }
    Object.keys(c.badges).forEach(function (id) { c.badges[id].g.classList.remove('focus'); });
    var id = state ? idOf(c, state) : null;
    if (id && id !== c.lastActive && c.nodes[id]) {
      // Keep the highlighted state in view inside the chart's scroll box.
      c.lastActive = id;
      var gr = c.nodes[id].getBoundingClientRect(), br = c.box.getBoundingClientRect();
      if (gr.top < br.top || gr.bottom > br.bottom) c.box.scrollTop += gr.top - br.top - br.height / 3;
    }
    if (id) {
      mark(id, offline ? 'offline' : 'active');
      (c.def.ancestors[id] || []).forEach(function (a) { mark(a, 'within'); });
      if (c.badges[id]) c.badges[id].g.classList.add('focus');
    }
  }

  // ---- rendering
  function render() {
    scheduled = false;
    var s = latest;
    if (!s) return;
    window.fedmktLive.renders++;
    document.body.setAttribute('data-seq', String(s.seq));
    $('title').textContent = s.title;
    document.title = 'FedMKT live: ' + s.title;
    if (s.ended) setStatus('run ended', 'ended');
    else if (!ended) setStatus('live', 'live');
    rates.push([Date.now(), s.events]);
    while (rates.length > 2 && rates[0][0] < Date.now() - 3000) rates.shift();
    var rate = rates.length > 1 ? (rates[rates.length - 1][1] - rates[0][1]) / Math.max(0.001, (rates[rates.length - 1][0] - rates[0][0]) / 1000) : 0;
    $('clock').textContent = (s.clock === 'wall' ? 'wall clock: ' + dur(nowT(s)) + ' since the run started' : 'virtual clock (simulated): ' + dur(nowT(s)) + ' · wall ' + dur(s.wall) + ' since the view started') + ' · ' + s.events.toLocaleString('en') + ' events' + (rate > 0 && !s.ended ? ' (' + Math.round(rate).toLocaleString('en') + '/s)' : '') + (s.ended && s.ended.text ? ' · ' + s.ended.text : '');
    renderRound(s);
    renderActors(s);
    renderCharts(s);
    renderMessages(s);
  }

  function renderRound(s) {
    $('round-no').textContent = s.round > 0 ? String(s.round) : '–';
    var c = s.collection, up = $('uploads'), dl = $('deadline');
    if (!c) {
      $('phase').textContent = s.events ? 'no collection yet' : 'waiting for the server…';
      up.hidden = true; dl.hidden = true; $('outcome').textContent = '';
    } else {
      up.hidden = false; dl.hidden = false;
      $('phase').textContent = (c.open ? 'collecting ' : 'collected ') + c.message + ' (server in ' + (c.open ? c.state : 'round ' + c.round + ' ' + c.state + ', now closed') + ')';
      var n = Math.max(1, c.expected);
      up.querySelector('.fill').style.width = Math.min(100, 100 * c.received / n) + '%';
      var mark = up.querySelector('.mark');
      if (c.needed) { mark.style.display = 'block'; mark.style.left = Math.min(100, 100 * c.needed / n) + '%'; } else mark.style.display = 'none';
      up.classList.toggle('met', c.needed !== null && c.received >= c.needed);
      up.querySelector('.label').textContent = 'uploads ' + c.received + ' of ' + c.expected + (c.needed ? ' · quorum ' + c.needed : '') + (c.ignored ? ' · ' + c.ignored + ' ignored' : '');
      var label = dl.querySelector('.label'), fill = dl.querySelector('.fill');
      if (c.deadlineAt === null) { fill.style.width = '0'; label.textContent = 'no deadline known'; dl.classList.remove('late'); }
      else {
        var at = c.open ? nowT(s) : c.closedAt;
        var left = c.deadlineAt - at;
        fill.style.width = Math.max(0, Math.min(100, 100 * (at - c.openedAt) / Math.max(1, c.deadlineMs))) + '%';
        dl.classList.toggle('late', left <= 0 || c.deadlineFired);
        label.textContent = c.open
          ? (left > 0 ? dur(left) + ' left to the deadline (' + dur(c.deadlineMs) + ', ' + (s.clock === 'wall' ? 'wall' : 'virtual') + ' time)' : 'deadline passed')
          : 'closed after ' + dur(c.closedAt - c.openedAt) + (c.deadlineFired ? ' (deadline)' : '') + ' of a ' + dur(c.deadlineMs) + ' deadline';
      }
      $('outcome').textContent = c.outcome ? 'quorum: ' + c.outcome : '';
    }
    replaceBody($('rounds'), s.rounds.slice().reverse().map(function (r) {
      return el('tr', null, [el('td', { text: String(r.round) }), el('td', { text: dur(r.startedAt) }), el('td', { text: r.endedAt === null ? '…' : dur(r.endedAt - r.startedAt) }), el('td', { text: String(r.uploads) }), el('td', { text: r.outcome || '' }), el('td', { text: String(r.messages) }), el('td', { text: r.faults ? String(r.faults) : '' })]);
    }));
  }

  function renderActors(s) {
    var a = s.actors;
    $('actor-count').textContent = a.total + ' (' + a.clients + ' clients)';
    var counts = s.counts.client, states = Object.keys(counts).sort(function (x, y) { return counts[y] - counts[x]; });
    var stack = document.querySelector('#counts .stack'), legend = document.querySelector('#counts .legend');
    stack.textContent = ''; legend.textContent = '';
    states.forEach(function (st) {
      var share = 100 * counts[st] / Math.max(1, a.clients);
      stack.appendChild(el('span', { style: 'width:' + share + '%;background:' + stateColour(st), title: st + ': ' + counts[st] }));
      legend.appendChild(el('li', { 'data-state': st, 'data-count': String(counts[st]) }, [el('span', { cls: 'sw', style: 'background:' + stateColour(st) }), st + ' ' + counts[st]]));
    });
    var note = $('sample-note');
    note.hidden = a.detailed;
    if (!a.detailed) note.textContent = a.total + ' actors: the bar above counts the clients per state; the table shows ' + a.rows.length + ' of them (the server, the first clients, and actors with recent faults). Type an id to focus any actor.';
    var list = $('focus-list');
    if (list.childNodes.length !== a.rows.length) {
      list.textContent = '';
      a.rows.forEach(function (r) { list.appendChild(el('option', { value: r.id })); });
    }
    var now = nowT(s);
    replaceBody($('actors'), a.rows.map(function (r) {
      var st = r.down ? 'offline (' + r.down + ' at ' + r.state + ')' : r.state;
      var tr = el('tr', { 'data-actor': r.id, 'data-state': r.state, cls: (r.id === focus ? 'focus ' : '') + (r.down ? 'down' : '') }, [
        el('td', null, [r.role === 'server' ? el('b', { text: r.id }) : r.id]),
        el('td', { text: String(r.round) }),
        el('td', null, [el('span', { cls: 'sw', style: 'background:' + stateColour(r.down ? 'offline' : r.state) }), st]),
        el('td', { text: r.state === 'starting' ? '' : dur(now - r.since) }),
        el('td', { text: r.deadlineAt === null ? '' : (r.deadlineAt - now > 0 ? dur(r.deadlineAt - now) + ' left' : 'passed') }),
        el('td', { text: String(r.sent) }),
        el('td', { text: String(r.received) }),
        el('td', { text: r.faults ? r.faults + ' (' + r.lastFault + ')' : '' }),
      ]);
      tr.addEventListener('click', function () { setFocus(r.id); });
      return tr;
    }));
    if (focus === null) {
      var first = a.rows.filter(function (r) { return r.role === 'client'; })[0];
      if (first) setFocus(first.id, true);
    }
    if (focus !== null) {
      var row = a.rows.filter(function (r) { return r.id === focus; })[0];
      if (row) focusRow = row;
    }
  }

  function setFocus(id, quiet) {
    focus = id;
    $('focus-input').value = id;
    focusRow = latest ? latest.actors.rows.filter(function (r) { return r.id === id; })[0] || null : null;
    if (!focusRow) fetchFocus();
    if (!quiet) schedule();
  }
  function fetchFocus() {
    if (focus === null) return;
    var want = focus;
    fetch('/actor.json?id=' + encodeURIComponent(want)).then(function (r) { return r.ok ? r.json() : null; }).then(function (row) {
      if (want === focus && row) { focusRow = row; schedule(); }
    }).catch(function () {});
  }

  function renderCharts(s) {
    var server = s.actors.rows.filter(function (r) { return r.role === 'server'; })[0];
    highlight('server', server ? server.state : null, null, server && server.down);
    $('server-state').textContent = server ? (server.down ? 'offline at ' : '') + server.state + ' · round ' + server.round : '';
    var f = focusRow && focusRow.role === 'client' ? focusRow : null;
    highlight('client', f ? f.state : null, s.counts.client, f && f.down);
    $('focus-name').textContent = f ? f.id : '';
    $('client-state').textContent = f ? (f.down ? 'offline at ' : '') + f.state + ' · round ' + f.round : '';
  }

  var MARK_GLYPH = { delay: 'delayed', duplicate: 'duplicated', again: 'delivered again', reorder: 'reordered', corrupt: 'corrupted' };
  function renderMessages(s) {
    var kinds = $('kinds');
    kinds.textContent = '';
    Object.keys(s.byKind).sort().forEach(function (k) {
      var fault = ['send', 'deliver', 'state', 'accepted', 'selected', 'alignment'].indexOf(k) < 0;
      kinds.appendChild(el('span', { cls: 'chip' + (fault ? ' fault' : ''), 'data-kind': k, text: k + ' ' + s.byKind[k].toLocaleString('en') }));
    });
    replaceBody($('messages'), s.messages.slice().reverse().map(function (m) {
      return el('tr', { 'data-kind': m.kind, 'data-marks': m.marks.join(' ') }, [
        el('td', { text: dur(m.t) }), el('td', null, [kindBadge(m.kind)]),
        el('td', null, [el('span', { cls: 'sw', style: 'background:' + messageColour(m.type) }), m.type]),
        el('td', { text: m.from + ' → ' + (m.to === '*' ? 'all clients' : m.to) }), el('td', { text: bytes(m.bytes) }),
        el('td', null, m.marks.map(function (k) { return el('span', { cls: 'k mk ' + (k === 'again' ? 'again' : k), text: MARK_GLYPH[k] || k }); }).concat(m.note ? [m.note] : [])),
      ]);
    }));
    replaceBody($('faults'), s.faults.slice().reverse().map(function (m) {
      return el('tr', { 'data-kind': m.kind }, [el('td', { text: dur(m.t) }), el('td', null, [kindBadge(m.kind)]), el('td', { text: m.type }), el('td', { text: m.from === m.to ? m.to : m.from + ' → ' + m.to }), el('td', { text: m.note })]);
    }));
    renderWire(s);
  }

  /** Messages of the last few seconds as lines between the server and the clients on show. */
  function renderWire(s) {
    var wire = $('wire');
    var W = 640, clients = s.actors.rows.filter(function (r) { return r.role === 'client'; }).slice(0, 14);
    var others = s.actors.clients - clients.length;
    var lanes = clients.map(function (r) { return r.id; });
    if (others > 0) lanes.push('…');
    var H = Math.max(120, 18 * lanes.length + 30);
    wire.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    wire.textContent = '';
    var sx = 110, sy = H / 2, cx = W - 150;
    var yOf = {};
    lanes.forEach(function (id, i) { yOf[id] = 20 + (i + 0.5) * ((H - 30) / lanes.length); });
    wire.appendChild(svg('rect', { x: sx - 90, y: sy - 14, width: 90, height: 28, rx: 6, fill: '#fff', stroke: '#263238' }));
    var st = svg('text', { x: sx - 45, y: sy + 4, 'text-anchor': 'middle', 'font-weight': 'bold' }); st.textContent = 'server'; wire.appendChild(st);
    lanes.forEach(function (id) {
      var r = clients.filter(function (c) { return c.id === id; })[0];
      wire.appendChild(svg('rect', { x: cx, y: yOf[id] - 7, width: 10, height: 14, rx: 2, fill: r ? stateColour(r.down ? 'offline' : r.state) : '#cfd8dc' }));
      var t = svg('text', { x: cx + 16, y: yOf[id] + 4 }); t.textContent = id === '…' ? others + ' more clients' : id + (r ? '  ' + (r.down ? 'offline' : r.state) : ''); wire.appendChild(t);
    });
    var horizon = 3000, age0 = Date.now() - receivedAt;
    var recent = s.messages.filter(function (m) { return s.wall - m.w + age0 < horizon; }).slice(-60);
    recent.forEach(function (m) {
      var alpha = Math.max(0.15, 1 - (s.wall - m.w + age0) / horizon);
      var client = m.from === 'server' || m.from === 'network' ? m.to : m.from;
      var y = client === '*' ? null : (yOf[client] !== undefined ? yOf[client] : yOf['…']);
      var fromServer = m.from === 'server';
      var colour = messageColour(m.type);
      var x1 = fromServer ? sx : cx, x2 = fromServer ? cx : sx;
      var ys = y === undefined || y === null ? [] : [y];
      if (client === '*') ys = lanes.map(function (id) { return yOf[id]; });
      ys.forEach(function (yy) {
        var y1 = fromServer ? sy : yy, y2 = fromServer ? yy : sy;
        var dash = m.kind === 'drop' ? '5 3' : m.kind === 'delay' || m.marks.indexOf('delay') >= 0 ? '2 3' : m.kind === 'send' ? '1 4' : '';
        var stroke = m.kind === 'drop' || m.kind === 'corrupt' || m.kind === 'reject' ? '#d50000' : m.kind === 'delay' ? '#ef6c00' : colour;
        var line = svg('line', { x1: x1, y1: y1, x2: m.kind === 'drop' ? x1 + (x2 - x1) * 0.7 : x2, y2: m.kind === 'drop' ? y1 + (y2 - y1) * 0.7 : y2, stroke: stroke, 'stroke-width': m.kind === 'deliver' ? 1.6 : 1.2, opacity: alpha, 'data-kind': m.kind });
        if (dash) line.setAttribute('stroke-dasharray', dash);
        wire.appendChild(line);
        if (m.kind === 'drop') {
          var xx = x1 + (x2 - x1) * 0.7, yx = y1 + (y2 - y1) * 0.7;
          var cross = svg('path', { d: 'M ' + (xx - 4) + ' ' + (yx - 4) + ' L ' + (xx + 4) + ' ' + (yx + 4) + ' M ' + (xx - 4) + ' ' + (yx + 4) + ' L ' + (xx + 4) + ' ' + (yx - 4), stroke: '#d50000', 'stroke-width': 2, opacity: alpha });
          wire.appendChild(cross);
        }
        if (m.kind === 'duplicate' || m.marks.indexOf('again') >= 0) {
          var l2 = svg('line', { x1: x1, y1: y1 + 3, x2: x2, y2: y2 + 3, stroke: '#1565c0', 'stroke-width': 1, opacity: alpha });
          wire.appendChild(l2);
        }
      });
    });
    var legend = svg('text', { x: 8, y: H - 6, fill: '#607d8b' });
    legend.textContent = 'last 3 s: solid delivered, dotted sent, dashed red dropped (×), orange delayed, double duplicated';
    wire.appendChild(legend);
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  }

  $('focus-input').addEventListener('change', function (e) { var v = e.target.value.trim(); if (v) setFocus(v); });
  // Between snapshots (a run on a real clock, fading message lines): repaint a few times a second.
  setInterval(function () {
    if (latest && !ended) schedule();
    if (focus !== null && latest && !latest.actors.detailed && !latest.actors.rows.some(function (r) { return r.id === focus; })) fetchFocus();
  }, 500);

  fetch('/charts.json').then(function (r) { return r.json(); }).then(function (defs) {
    if (!defs.server && !defs.client) { $('charts-panel').hidden = true; }
    else { setupChart('server', defs.server); setupChart('client', defs.client); }
    window.fedmktLive.chartsReady = true;
    schedule();
  }).catch(function () { $('charts-panel').hidden = true; });

  var es = new EventSource('/events');
  es.addEventListener('open', function () { if (!ended) setStatus('live', 'live'); });
  es.addEventListener('snapshot', function (e) {
    latest = JSON.parse(e.data);
    receivedAt = Date.now();
    snapshots++;
    window.fedmktLive.snapshots = snapshots;
    window.fedmktLive.last = latest;
    schedule();
  });
  es.addEventListener('end', function () {
    ended = true;
    es.close();
    // The final snapshot came just before: draw it now, then say the run is over.
    render();
    setStatus('run ended', 'ended');
  });
  es.addEventListener('error', function () { if (!ended) setStatus('reconnecting…', 'wait'); });
})();
`;
