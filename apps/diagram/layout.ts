/**
 * Where svg.ts draws a machine graph: a layered layout. The children of each compound
 * are ranked by the longest path from its initial child (back edges removed), laid out in rows,
 * and the compound is a box around them. Edges to the next row run down between rows, edges
 * that skip rows in channels on the left, back edges and edges leaving a compound in channels on
 * the right of their scope. Labels sit on their edge and move up or down off boxes and other labels.
 */
import { childrenOf, edgeLabel, lowestCommonCompound, type DiagramEdge, type DiagramNode, type MachineGraph } from './graph.js';

export const TITLE_SIZE = 13;
export const SMALL_SIZE = 10;
export const RED = '#c62828';
export const GREY = '#455a64';
export const MARGIN = 20;
const ROW_GAP = 64;
const COL_GAP = 56;
const PAD = 16;
const CHANNEL_GAP = 10;

const textWidth = (text: string, size: number, bold = false) => Math.ceil(text.length * size * (bold ? 0.64 : 0.6));

export interface Box {
  node: DiagramNode;
  w: number;
  h: number;
  /** Absolute position (after placement). */
  x: number;
  y: number;
  lines: string[];
  headerH: number;
  children: Box[];
  rows: Box[][];
  contentW: number;
  channels: number;
  /** Width reserved left of the content for row-skipping edges. */
  leftW: number;
  rank: number;
}

/** `down` (same parent, to the next row), `side` (same row), `self`, `skip` (same parent, rows below), or `channel`. */
type Route = 'down' | 'side' | 'self' | 'channel' | 'skip';

interface RoutedEdge {
  edge: DiagramEdge;
  route: Route;
  /** The transition's scope: the compound whose channels it runs in. */
  lca: string;
  channel: number;
}

interface EdgeLabel {
  x: number;
  y: number;
  text: string;
  color: string;
  anchor: 'start' | 'middle' | 'end';
}

export interface DiagramLayout {
  root: Box;
  /** Every box by state id. */
  boxes: Map<string, Box>;
  /** The path of each edge with a target, in the graph's order. */
  paths: { edge: DiagramEdge; d: string }[];
  /** Edge labels at their final height (`x0`: the left of their backdrop, `w` its width). */
  labels: (EdgeLabel & { x0: number; w: number })[];
}

export const edgeColour = (edge: DiagramEdge) => (edge.failure ? RED : GREY);

export function layoutDiagram(graph: MachineGraph): DiagramLayout {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = childrenOf(graph);
  const ranks = new Map<string, number>();
  for (const n of graph.nodes) {
    const kids = children.get(n.id);
    if (kids) rankChildren(n, kids, graph, byId, ranks);
  }
  const routed = routeEdges(graph, byId, ranks);
  const boxes = new Map<string, Box>();
  const root = sizeBoxes(graph, byId, children, ranks, routed, boxes);
  place(root, MARGIN, MARGIN);
  const { paths, labels } = edgePaths(routed, boxes);
  return { root, boxes, paths, labels: placeLabels(labels, boxes) };
}

function routeEdges(graph: MachineGraph, byId: Map<string, DiagramNode>, ranks: Map<string, number>): RoutedEdge[] {
  return graph.edges
    .filter((e) => e.to !== null)
    .map((e) => {
      const from = byId.get(e.from)!;
      const to = byId.get(e.to!)!;
      let route: Route = 'channel';
      if (e.from === e.to) route = 'self';
      else if (from.parent === to.parent) {
        const rf = ranks.get(from.id) ?? 0;
        const rt = ranks.get(to.id) ?? 0;
        route = rt === rf + 1 ? 'down' : rt > rf ? 'skip' : rt === rf ? 'side' : 'channel';
      }
      return { edge: e, route, lca: lowestCommonCompound(byId, e.from, e.to!), channel: 0 };
    });
}

/**
 * Channels of the edges scoped to `compound`: back edges and edges leaving it run right of its
 * content, edges that skip rows on the left (on the right when leaving from the right half).
 */
function assignChannels(routed: RoutedEdge[], compound: string, rows: Box[][]): { right: number; left: number } {
  const rowPos = new Map<string, number>();
  for (const row of rows) row.forEach((b, i) => rowPos.set(b.node.id, i - (row.length - 1) / 2));
  let right = 0;
  let left = 0;
  for (const r of routed) {
    if (r.lca !== compound) continue;
    if (r.route === 'skip' && (rowPos.get(r.edge.from) ?? 0) > 0) r.route = 'channel';
    if (r.route === 'channel') r.channel = right++;
    else if (r.route === 'skip') r.channel = left++;
  }
  return { right, left };
}

/** Sizes, bottom-up: a leaf fits its title and lines, a compound its rows and channels. */
function sizeBoxes(
  graph: MachineGraph,
  byId: Map<string, DiagramNode>,
  children: Map<string, DiagramNode[]>,
  ranks: Map<string, number>,
  routed: RoutedEdge[],
  boxes: Map<string, Box>,
): Box {
  const internal = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.to !== null) continue;
    const list = internal.get(e.from) ?? [];
    list.push(`on ${edgeLabel(e)}`);
    internal.set(e.from, list);
  }
  const size = (node: DiagramNode): Box => {
    const lines = [...node.invokes.map((i) => `invoke ${i.src}`), ...(internal.get(node.id) ?? [])];
    const kids = (children.get(node.id) ?? []).map(size);
    const title = node.parent === null ? `machine ${node.key}` : node.key;
    const box: Box = {
      node,
      w: 0,
      h: 0,
      x: 0,
      y: 0,
      lines,
      headerH: 0,
      children: kids,
      rows: [],
      contentW: 0,
      channels: 0,
      leftW: 0,
      rank: ranks.get(node.id) ?? 0,
    };
    const textW = Math.max(textWidth(title, TITLE_SIZE, true), ...lines.map((l) => textWidth(l, SMALL_SIZE)));
    if (kids.length === 0) {
      box.w = Math.max(96, textW + 24);
      box.h = 30 + lines.length * 13 + (lines.length ? 4 : 0);
    } else {
      const rowCount = Math.max(...kids.map((k) => k.rank)) + 1;
      box.rows = Array.from({ length: rowCount }, () => []);
      for (const k of kids) box.rows[k.rank]!.push(k);
      box.rows = box.rows.filter((r) => r.length > 0);
      orderRows(
        box.rows,
        routed.map((r) => r.edge),
        byId,
        node.id,
      );
      const channels = assignChannels(routed, node.id, box.rows);
      box.channels = channels.right;
      box.leftW = channels.left ? channels.left * CHANNEL_GAP + 8 : 0;
      const rowW = box.rows.map((r) => r.reduce((s, b) => s + b.w, 0) + COL_GAP * (r.length - 1));
      box.contentW = Math.max(textW, ...rowW);
      box.headerH = 24 + lines.length * 13 + 22; // title, internal lines, room for the initial marker
      const rowsH = box.rows.reduce((s, r) => s + Math.max(...r.map((b) => b.h)), 0) + ROW_GAP * (box.rows.length - 1);
      box.w = PAD + box.leftW + box.contentW + PAD + (box.channels ? box.channels * CHANNEL_GAP + 8 : 0);
      box.h = box.headerH + rowsH + PAD;
    }
    boxes.set(node.id, box);
    return box;
  };
  return size(byId.get(graph.root)!);
}

/** Placement, top-down: rows centred in their compound, boxes centred in their row. */
function place(box: Box, x: number, y: number): void {
  box.x = x;
  box.y = y;
  let cy = y + box.headerH;
  for (const row of box.rows) {
    const rowW = row.reduce((s, b) => s + b.w, 0) + COL_GAP * (row.length - 1);
    let cx = x + PAD + box.leftW + (box.contentW - rowW) / 2;
    const rowH = Math.max(...row.map((b) => b.h));
    for (const b of row) {
      place(b, cx, cy + (rowH - b.h) / 2);
      cx += b.w + COL_GAP;
    }
    cy += rowH + ROW_GAP;
  }
}

/** The sides of its source and target an edge leaves and enters by. */
function sidesOf(r: RoutedEdge, boxes: Map<string, Box>): [string, string] {
  switch (r.route) {
    case 'down':
      return ['bottom', 'top'];
    case 'side':
      return ['side', 'side'];
    case 'self':
      return ['self', 'self'];
    case 'skip':
      return ['left', 'top'];
    default: {
      const s = boxes.get(r.edge.from)!;
      const t = boxes.get(r.edge.to!)!;
      return ['right', t.y > s.y + s.h ? 'top' : 'right'];
    }
  }
}

/** Each edge's path and label; several edges on one side of a box are spread along it. */
function edgePaths(routed: RoutedEdge[], boxes: Map<string, Box>): { paths: DiagramLayout['paths']; labels: EdgeLabel[] } {
  const portCount = new Map<string, number>();
  const portIndex = new Map<string, number>();
  const portKey = (id: string, side: string) => `${id}|${side}`;
  for (const r of routed) {
    const [a, b] = sidesOf(r, boxes);
    portCount.set(portKey(r.edge.from, a), (portCount.get(portKey(r.edge.from, a)) ?? 0) + 1);
    portCount.set(portKey(r.edge.to!, b), (portCount.get(portKey(r.edge.to!, b)) ?? 0) + 1);
  }
  const port = (id: string, side: string) => {
    const k = portKey(id, side);
    const i = portIndex.get(k) ?? 0;
    portIndex.set(k, i + 1);
    return (i + 1) / ((portCount.get(k) ?? 1) + 1);
  };
  const paths: DiagramLayout['paths'] = [];
  const labels: EdgeLabel[] = [];
  for (const r of routed) {
    const [sa, ta] = sidesOf(r, boxes);
    const fs = port(r.edge.from, sa);
    const ft = port(r.edge.to!, ta);
    const { d, label } = edgeGeometry(r, boxes, fs, ft, ta);
    paths.push({ edge: r.edge, d });
    labels.push({ ...label, text: edgeLabel(r.edge), color: edgeColour(r.edge) });
  }
  return { paths, labels };
}

/** The path of one edge (`fs`, `ft`: its ports as fractions of the sides) and where its label goes. */
function edgeGeometry(r: RoutedEdge, boxes: Map<string, Box>, fs: number, ft: number, ta: string): { d: string; label: Pick<EdgeLabel, 'x' | 'y' | 'anchor'> } {
  const s = boxes.get(r.edge.from)!;
  const t = boxes.get(r.edge.to!)!;
  if (r.route === 'self') {
    const x0 = s.x + s.w;
    const y0 = s.y + s.h * 0.3;
    const y1 = s.y + s.h * 0.7;
    return { d: `M ${x0} ${y0} C ${x0 + 40} ${y0 - 10}, ${x0 + 40} ${y1 + 10}, ${x0} ${y1}`, label: { x: x0 + 42, y: (y0 + y1) / 2 + 3, anchor: 'start' } };
  }
  if (r.route === 'down') {
    const sx = s.x + s.w * fs;
    const sy = s.y + s.h;
    const tx = t.x + t.w * ft;
    const ty = t.y;
    const dy = Math.min((ty - sy) / 2, 60);
    // Label in the gap right below the source, on the curve.
    const ly = sy + ROW_GAP / 2;
    const u = solveBezierY(sy, sy + dy, ty - dy, ty, ly);
    return { d: `M ${sx} ${sy} C ${sx} ${sy + dy}, ${tx} ${ty - dy}, ${tx} ${ty}`, label: { x: bezier(sx, sx, tx, tx, u), y: ly + 4, anchor: 'middle' } };
  }
  if (r.route === 'side') {
    const leftToRight = s.x < t.x;
    const sx = leftToRight ? s.x + s.w : s.x;
    const tx = leftToRight ? t.x : t.x + t.w;
    const sy = s.y + s.h * fs;
    const ty = t.y + t.h * ft;
    return { d: `M ${sx} ${sy} L ${tx} ${ty}`, label: { x: (sx + tx) / 2, y: (sy + ty) / 2 - 4, anchor: 'middle' } };
  }
  const lca = boxes.get(r.lca)!;
  if (r.route === 'skip') {
    const X = lca.x + PAD + lca.leftW - 12 - r.channel * CHANNEL_GAP;
    const sy = s.y + s.h * fs;
    const tx = t.x + t.w * ft;
    const entry = t.y - 14 - r.channel * 3;
    return { d: `M ${s.x} ${sy} H ${X} V ${entry} H ${tx} V ${t.y}`, label: { x: s.x - 5, y: sy - 4, anchor: 'end' } };
  }
  const X = lca.x + PAD + lca.leftW + lca.contentW + 12 + r.channel * CHANNEL_GAP;
  const sx = s.x + s.w;
  const sy = s.y + Math.min(s.h * fs, s.node.type === 'compound' ? 18 + 8 * fs : s.h);
  let d: string;
  if (ta === 'top') {
    const tx = t.x + t.w * ft;
    const entry = t.y - 14 - r.channel * 3;
    d = `M ${sx} ${sy} H ${X} V ${entry} H ${tx} V ${t.y}`;
  } else {
    const tx = t.x + t.w;
    const ty = t.y + Math.min(t.h * ft, t.node.type === 'compound' ? 14 + 8 * ft : t.h);
    d = `M ${sx} ${sy} H ${X} V ${ty} H ${tx}`;
  }
  return { d, label: { x: sx + 5, y: sy - 4, anchor: 'start' } };
}

/** Labels nudged down or up, in turn, until they overlap no leaf box and no earlier label. */
function placeLabels(labels: EdgeLabel[], boxes: Map<string, Box>): DiagramLayout['labels'] {
  const placed: { x0: number; x1: number; y0: number; y1: number }[] = [];
  for (const b of boxes.values()) if (b.children.length === 0) placed.push({ x0: b.x, x1: b.x + b.w, y0: b.y, y1: b.y + b.h });
  return labels.map((l) => {
    const w = textWidth(l.text, SMALL_SIZE) + 6;
    let best = l.y;
    const x0 = l.anchor === 'middle' ? l.x - w / 2 : l.anchor === 'end' ? l.x - w + 3 : l.x - 3;
    for (const dy of [0, -13, 13, -26, 26, -39, 39, -52, 52]) {
      const y = l.y + dy;
      const r = { x0, x1: x0 + w, y0: y - 10, y1: y + 3 };
      if (!placed.some((p) => p.x0 < r.x1 && r.x0 < p.x1 && p.y0 < r.y1 && r.y0 < p.y1)) {
        best = y;
        break;
      }
    }
    placed.push({ x0, x1: x0 + w, y0: best - 10, y1: best + 3 });
    return { ...l, y: best, x0, w };
  });
}

function rankChildren(parent: DiagramNode, kids: DiagramNode[], graph: MachineGraph, byId: Map<string, DiagramNode>, ranks: Map<string, number>): void {
  const inKids = new Set(kids.map((k) => k.id));
  const lift = (id: string): string | null => {
    let cur: string | null = id;
    while (cur !== null && !inKids.has(cur)) cur = byId.get(cur)?.parent ?? null;
    return cur;
  };
  const adj = new Map<string, string[]>(kids.map((k) => [k.id, []]));
  for (const e of graph.edges) {
    if (e.to === null) continue;
    const a = lift(e.from);
    const b = lift(e.to);
    if (a && b && a !== b && !adj.get(a)!.includes(b)) adj.get(a)!.push(b);
  }
  // DFS from the initial child, then the rest in definition order; edges to a node on the stack are back edges.
  const state = new Map<string, 0 | 1 | 2>();
  const forward = new Map<string, string[]>(kids.map((k) => [k.id, []]));
  const order: string[] = [];
  const dfs = (id: string) => {
    state.set(id, 1);
    for (const next of adj.get(id)!) {
      const s = state.get(next) ?? 0;
      if (s === 1) continue; // back edge
      forward.get(id)!.push(next);
      if (s === 0) dfs(next);
    }
    state.set(id, 2);
    order.push(id);
  };
  const starts = parent.initial ? [parent.initial, ...kids.map((k) => k.id)] : kids.map((k) => k.id);
  for (const s of starts) if ((state.get(s) ?? 0) === 0) dfs(s);
  // Longest path in reverse post-order.
  for (const k of kids) ranks.set(k.id, 0);
  for (const id of order.reverse()) {
    for (const next of forward.get(id)!) ranks.set(next, Math.max(ranks.get(next)!, ranks.get(id)! + 1));
  }
}

/** One barycentre pass: order each row by the mean position of its predecessors in earlier rows. */
function orderRows(rows: Box[][], edges: DiagramEdge[], byId: Map<string, DiagramNode>, parent: string): void {
  const pos = new Map<string, number>();
  const liftTo = (id: string): string | null => {
    let cur: string | null = id;
    while (cur !== null && byId.get(cur)?.parent !== parent) cur = byId.get(cur)?.parent ?? null;
    return cur;
  };
  rows.forEach((row, ri) => {
    if (ri > 0) {
      const bary = new Map<string, number>();
      row.forEach((b, i) => {
        const preds: number[] = [];
        for (const e of edges) {
          if (liftTo(e.to!) !== b.node.id) continue;
          const from = liftTo(e.from);
          if (from && pos.has(from)) preds.push(pos.get(from)!);
        }
        bary.set(b.node.id, preds.length ? preds.reduce((s, x) => s + x, 0) / preds.length : i);
      });
      row.sort((a, b) => bary.get(a.node.id)! - bary.get(b.node.id)!);
    }
    row.forEach((b, i) => pos.set(b.node.id, i - (row.length - 1) / 2));
  });
}

function bezier(p0: number, p1: number, p2: number, p3: number, u: number): number {
  const v = 1 - u;
  return v * v * v * p0 + 3 * v * v * u * p1 + 3 * v * u * u * p2 + u * u * u * p3;
}

function solveBezierY(p0: number, p1: number, p2: number, p3: number, y: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (bezier(p0, p1, p2, p3, mid) < y) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
