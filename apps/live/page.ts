/**
 * The live page: one self-contained HTML document (inline CSS and script, system fonts,
 * nothing loaded from anywhere but this server's /charts.json and /events). Its script, the
 * module in ./browser bundled by page-script.ts, renders the latest snapshot once per animation
 * frame, however many arrive, and never draws more than the snapshot holds (a sample of actors
 * beyond the detail limit, a bounded message list).
 */
import { escapeXml } from '../../core/format.js';
import { livePageScript } from './page-script.js';

export function livePage(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>FedMKT live: ${escapeXml(title)}</title>
<style>${CSS}</style>
</head>
<body data-seq="0">
<header>
<h1>FedMKT live <code id="title">${escapeXml(title)}</code> <span id="status" class="pill wait">connecting…</span></h1>
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
<div id="by-template" hidden><h3>By template <span id="template-round" class="muted"></span></h3><div class="scroll"><table id="templates" class="grid small"><thead></thead><tbody></tbody></table></div></div>
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
<script>${livePageScript()}</script>
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
#templates th{white-space:normal;vertical-align:bottom}#templates td:first-child span{display:block;font-size:11px}
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
