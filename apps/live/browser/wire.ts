/** The messages of the last few seconds as lines between the server and the clients on show. */
import type { LiveSnapshot, MessageRow } from '../snapshot.js';
import { $, svg } from './dom.js';
import { colourOfState, messageColour } from './format.js';

const W = 640;
const HORIZON_MS = 3000;

interface Ends {
  x1: number;
  x2: number;
  sy: number;
  fromServer: boolean;
}

export function renderWire(s: LiveSnapshot, receivedAt: number): void {
  const wire = $('wire', SVGSVGElement);
  const clients = s.actors.rows.filter((r) => r.role === 'client').slice(0, 14);
  const others = s.actors.clients - clients.length;
  const lanes = clients.map((r) => r.id);
  if (others > 0) lanes.push('…');
  const H = Math.max(120, 18 * lanes.length + 30);
  wire.setAttribute('viewBox', `0 0 ${W} ${H}`);
  wire.textContent = '';
  const sx = 110;
  const sy = H / 2;
  const cx = W - 150;
  const yOf: Record<string, number> = {};
  lanes.forEach((id, i) => {
    yOf[id] = 20 + (i + 0.5) * ((H - 30) / lanes.length);
  });
  wire.appendChild(svg('rect', { x: sx - 90, y: sy - 14, width: 90, height: 28, rx: 6, fill: '#fff', stroke: '#263238' }));
  const st = svg('text', { x: sx - 45, y: sy + 4, 'text-anchor': 'middle', 'font-weight': 'bold' });
  st.textContent = 'server';
  wire.appendChild(st);
  for (const id of lanes) {
    const y = yOf[id] ?? 0;
    const r = clients.find((c) => c.id === id);
    wire.appendChild(svg('rect', { x: cx, y: y - 7, width: 10, height: 14, rx: 2, fill: r ? colourOfState(r.down ? 'offline' : r.state) : '#cfd8dc' }));
    const t = svg('text', { x: cx + 16, y: y + 4 });
    t.textContent = id === '…' ? `${others} more clients` : id + (r ? `  ${r.down ? 'offline' : r.state}` : '');
    wire.appendChild(t);
  }
  const age0 = Date.now() - receivedAt;
  const recent = s.messages.filter((m) => s.wall - m.w + age0 < HORIZON_MS).slice(-60);
  for (const m of recent) {
    const alpha = Math.max(0.15, 1 - (s.wall - m.w + age0) / HORIZON_MS);
    const client = m.from === 'server' || m.from === 'network' ? m.to : m.from;
    const y = client === '*' ? null : yOf[client] !== undefined ? yOf[client] : yOf['…'];
    const fromServer = m.from === 'server';
    const ends: Ends = { x1: fromServer ? sx : cx, x2: fromServer ? cx : sx, sy, fromServer };
    const ys = client === '*' ? lanes.map((id) => yOf[id] ?? 0) : y === undefined || y === null ? [] : [y];
    for (const yy of ys) drawMessage(wire, m, ends, yy, alpha);
  }
  const legend = svg('text', { x: 8, y: H - 6, fill: '#607d8b' });
  legend.textContent = 'last 3 s: solid delivered, dotted sent, dashed red dropped (×), orange delayed, double duplicated';
  wire.appendChild(legend);
}

/** One message's line to or from the lane at `yy`: dashed and cut short with a cross when dropped, doubled when duplicated. */
function drawMessage(wire: SVGSVGElement, m: MessageRow, { x1, x2, sy, fromServer }: Ends, yy: number, alpha: number): void {
  const y1 = fromServer ? sy : yy;
  const y2 = fromServer ? yy : sy;
  const dash = m.kind === 'drop' ? '5 3' : m.kind === 'delay' || m.marks.includes('delay') ? '2 3' : m.kind === 'send' ? '1 4' : '';
  const stroke = m.kind === 'drop' || m.kind === 'corrupt' || m.kind === 'reject' ? '#d50000' : m.kind === 'delay' ? '#ef6c00' : messageColour(m.type);
  const line = svg('line', {
    x1,
    y1,
    x2: m.kind === 'drop' ? x1 + (x2 - x1) * 0.7 : x2,
    y2: m.kind === 'drop' ? y1 + (y2 - y1) * 0.7 : y2,
    stroke,
    'stroke-width': m.kind === 'deliver' ? 1.6 : 1.2,
    opacity: alpha,
    'data-kind': m.kind,
  });
  if (dash) line.setAttribute('stroke-dasharray', dash);
  wire.appendChild(line);
  if (m.kind === 'drop') {
    const xx = x1 + (x2 - x1) * 0.7;
    const yx = y1 + (y2 - y1) * 0.7;
    const d = `M ${xx - 4} ${yx - 4} L ${xx + 4} ${yx + 4} M ${xx - 4} ${yx + 4} L ${xx + 4} ${yx - 4}`;
    wire.appendChild(svg('path', { d, stroke: '#d50000', 'stroke-width': 2, opacity: alpha }));
  }
  if (m.kind === 'duplicate' || m.marks.includes('again')) {
    wire.appendChild(svg('line', { x1, y1: y1 + 3, x2, y2: y2 + 3, stroke: '#1565c0', 'stroke-width': 1, opacity: alpha }));
  }
}
