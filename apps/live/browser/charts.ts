/**
 * The statecharts on the page: the server's current state, and per client state a badge with
 * how many clients are in it, the focused client's state highlighted.
 */
import type { LiveChartDrawing } from '../snapshot.js';
import { $, svg } from './dom.js';

interface Badge {
  g: SVGGElement;
  rect: SVGRectElement;
  text: SVGTextElement;
  value: number;
}

export interface Chart {
  def: LiveChartDrawing;
  box: HTMLElement;
  nodes: Record<string, Element>;
  badges: Record<string, Badge>;
  marked: Element[];
  lastActive: string | null;
}

/** Draws `def` into #chart-NAME, with a hidden badge on each leaf state; null without a chart. */
export function setupChart(name: string, def: LiveChartDrawing | undefined): Chart | null {
  const box = $(`chart-${name}`);
  if (!def) {
    box.textContent = 'no statechart';
    return null;
  }
  box.innerHTML = def.svg;
  const root = box.querySelector('svg');
  const nodes: Record<string, Element> = {};
  const badges: Record<string, Badge> = {};
  box.querySelectorAll('g.state[data-id]').forEach((g) => {
    nodes[g.getAttribute('data-id') ?? ''] = g;
  });
  const layer = svg('g', { class: 'badges' });
  for (const id of Object.values(def.stateIds)) {
    const g = nodes[id];
    const r = g?.querySelector('rect');
    if (!g || !r || g.classList.contains('compound')) continue;
    const x = Number(r.getAttribute('x')) + Number(r.getAttribute('width'));
    const y = Number(r.getAttribute('y'));
    const b = svg('g', { class: 'badge', transform: `translate(${x - 8},${y - 8})`, visibility: 'hidden' });
    const rect = svg('rect', { x: -14, y: -8, width: 28, height: 16, rx: 8 });
    const text = svg('text', { x: 0, y: 4, 'text-anchor': 'middle' });
    b.append(rect, text);
    layer.appendChild(b);
    badges[id] = { g: b, rect, text, value: -1 };
  }
  root?.appendChild(layer);
  return { def, box, nodes, badges, marked: [], lastActive: null };
}

/** Marks `state` (active, or offline), its compound ancestors, and with `counts` the occupied states and their badges. */
export function highlight(c: Chart | null, state: string | null, counts: Record<string, number> | null, offline: boolean): void {
  if (!c) return;
  for (const g of c.marked) g.classList.remove('active', 'within', 'offline', 'occupied');
  c.marked = [];
  const mark = (id: string, cls: string) => {
    const g = c.nodes[id];
    if (g) {
      g.classList.add(cls);
      c.marked.push(g);
    }
  };
  if (counts) showCounts(c, counts, mark);
  for (const b of Object.values(c.badges)) b.g.classList.remove('focus');
  const id = state ? (c.def.stateIds[state] ?? null) : null;
  const node = id === null ? undefined : c.nodes[id];
  if (id !== null && id !== c.lastActive && node) {
    // Keep the highlighted state in view inside the chart's scroll box.
    c.lastActive = id;
    const gr = node.getBoundingClientRect();
    const br = c.box.getBoundingClientRect();
    if (gr.top < br.top || gr.bottom > br.bottom) c.box.scrollTop += gr.top - br.top - br.height / 3;
  }
  if (id !== null) {
    mark(id, offline ? 'offline' : 'active');
    for (const a of c.def.ancestors[id] ?? []) mark(a, 'within');
    c.badges[id]?.g.classList.add('focus');
  }
}

function showCounts(c: Chart, counts: Record<string, number>, mark: (id: string, cls: string) => void): void {
  const seen: Record<string, number> = {};
  for (const [s, n] of Object.entries(counts)) {
    const id = c.def.stateIds[s];
    if (!id) continue;
    seen[id] = n;
    mark(id, 'occupied');
  }
  for (const [id, b] of Object.entries(c.badges)) {
    const v = seen[id] ?? 0;
    if (v === b.value) continue;
    b.value = v;
    b.g.setAttribute('visibility', v > 0 ? 'visible' : 'hidden');
    b.text.textContent = String(v);
    const w = Math.max(20, 8 + 7 * String(v).length);
    b.rect.setAttribute('width', String(w));
    b.rect.setAttribute('x', String(-w / 2));
  }
}
