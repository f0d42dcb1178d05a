/**
 * Draws a machine DEFINITION (not a run): its states, nested states, transitions with their
 * event types, guards, delays, invoked work and final states, read from `machine.root`.
 * Three renderings of one {@link MachineGraph}: Mermaid `stateDiagram-v2` text, JSON and a
 * self-contained SVG (layered layout, compound states as boxes around their children,
 * failure transitions in red).
 */
import { createActor, type AnyStateMachine, type AnyStateNode } from 'xstate';

export type DiagramFormat = 'mermaid' | 'svg' | 'json';

export type NodeType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface DiagramNode {
  /** State node id, e.g. `client.round.trainPrivate`; the root's id is the machine id. */
  id: string;
  /** Last segment of the id (`trainPrivate`). */
  key: string;
  parent: string | null;
  type: NodeType;
  /** Id of the initial child (compound states). */
  initial: string | null;
  /** Invoked work while the state is active. */
  invokes: { id: string; src: string }[];
  /** A state the machine ends in when something went wrong (`failed`, `aborting`). */
  failure: boolean;
  depth: number;
}

/**
 * - `event`: an external event (`ROUND_START`).
 * - `always`: eventless, taken as soon as its guard holds.
 * - `after`: a delayed transition (deadline).
 * - `invoke.done` / `invoke.error`: invoked work finished or failed.
 * - `state.done`: a compound state reached one of its final children.
 */
export type EdgeKind = 'event' | 'always' | 'after' | 'invoke.done' | 'invoke.error' | 'state.done';

export type FailureReason = 'error' | 'failure-target' | 'deadline';

export interface DiagramEdge {
  from: string;
  /** Target state id; null for a targetless transition (actions only, the state is not left). */
  to: string | null;
  kind: EdgeKind;
  /** The full event type (`xstate.after.uploadDeadline.server.round.awaitSLMLogits`); '' for `always`. */
  event: string;
  /** Short human label: `ROUND_START`, `after uploadDeadline`, `error`, `onDone`, `always`. */
  trigger: string;
  guard: string | null;
  /** Delay name (or literal ms) of an `after` transition. */
  delay: string | number | null;
  /** The delay in ms when it could be resolved (literal, or computed from the given input). */
  delayMs: number | null;
  /** Named actions (built-in ones as `xstate.assign`, `xstate.emit`, ...). */
  actions: string[];
  /** Position among the transitions of the same source and event (guard order). */
  order: number;
  failure: boolean;
  failureReasons: FailureReason[];
}

export interface MachineGraph {
  machine: string;
  root: string;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

export interface DiagramOptions {
  /** Machine input used to compute delays in ms (`after` transitions whose delay is a function of context). */
  input?: unknown;
}

/** Keys of states that mean the run went wrong. */
export const FAILURE_STATE_KEYS: readonly string[] = ['failed', 'aborting'];
/** Prefix of failure edge labels in the Mermaid text. */
export const FAILURE_MARK = '⚠';

// ---------------------------------------------------------------------------------------------
// Reading the definition

interface RawTransition {
  eventType: string;
  target?: readonly AnyStateNode[] | undefined;
  guard?: unknown;
  delay?: unknown;
  actions?: readonly unknown[];
}

export function machineGraph(machine: AnyStateMachine, options: DiagramOptions = {}): MachineGraph {
  const context = 'input' in options ? initialContext(machine, options.input) : undefined;
  const nodes: DiagramNode[] = [];
  const edges: DiagramEdge[] = [];
  const walk = (node: AnyStateNode, parent: string | null, depth: number) => {
    const key = parent === null ? node.id : node.key;
    nodes.push({
      id: node.id,
      key,
      parent,
      type: node.type as NodeType,
      initial: node.initial?.target?.[0]?.id ?? null,
      invokes: node.invoke.map((inv) => ({ id: inv.id, src: typeof inv.src === 'string' ? inv.src : inv.id })),
      failure: parent !== null && FAILURE_STATE_KEYS.includes(node.key),
      depth,
    });
    const transitions: RawTransition[] = [];
    for (const list of node.transitions.values()) transitions.push(...(list as RawTransition[]));
    for (const t of node.always ?? []) transitions.push(t as RawTransition);
    const seen = new Map<string, number>();
    for (const t of transitions) {
      const event = t.eventType ?? '';
      const order = seen.get(event) ?? 0;
      seen.set(event, order + 1);
      const kind = edgeKind(event, t);
      const targets = t.target && t.target.length > 0 ? t.target.map((x) => x.id) : [null];
      for (const to of targets) {
        const delay = kind === 'after' ? ((t.delay as string | number | undefined) ?? null) : null;
        const reasons: FailureReason[] = [];
        if (to !== null && FAILURE_STATE_KEYS.includes(lastSegment(to))) reasons.push('failure-target');
        if (kind === 'invoke.error') reasons.push('error');
        if (kind === 'after') reasons.push('deadline');
        edges.push({
          from: node.id,
          to,
          kind,
          event,
          trigger: triggerLabel(kind, event, delay),
          guard: guardName(t.guard),
          delay,
          delayMs: delay === null ? null : resolveDelayMs(machine, delay, context),
          actions: (t.actions ?? []).map(actionName).filter((a): a is string => a !== null),
          order,
          failure: reasons.length > 0,
          failureReasons: reasons,
        });
      }
    }
    for (const child of Object.values(node.states)) walk(child as AnyStateNode, node.id, depth + 1);
  };
  walk(machine.root, null, 0);
  return { machine: machine.id, root: machine.root.id, nodes, edges };
}

function edgeKind(event: string, t: RawTransition): EdgeKind {
  if (event === '') return 'always';
  if (event.startsWith('xstate.after.') || t.delay !== undefined) return 'after';
  if (event.startsWith('xstate.done.actor.')) return 'invoke.done';
  if (event.startsWith('xstate.error.actor.')) return 'invoke.error';
  if (event.startsWith('xstate.done.state.')) return 'state.done';
  return 'event';
}

function triggerLabel(kind: EdgeKind, event: string, delay: string | number | null): string {
  switch (kind) {
    case 'always':
      return 'always';
    case 'after':
      return `after ${typeof delay === 'number' ? `${delay} ms` : String(delay)}`;
    case 'invoke.done':
      return 'done';
    case 'invoke.error':
      return 'error';
    case 'state.done':
      return 'onDone';
    default:
      return event;
  }
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const name = (guard as { name?: string }).name;
    // XState's and([...]), or([...]) and not(g): drawn with their parts, `resuming and moreRounds`.
    const parts = (guard as { guards?: unknown }).guards;
    if (Array.isArray(parts) && (name === 'and' || name === 'or')) return parts.map(guardPart).join(` ${name} `);
    if (Array.isArray(parts) && name === 'not' && parts.length === 1) return `not ${guardPart(parts[0])}`;
    return name && name !== 'guard' ? name : 'inline';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return 'inline';
}

/** A guard inside a composite one, in parentheses when it is composite itself. */
function guardPart(guard: unknown): string {
  const name = guardName(guard) ?? 'inline';
  return name.includes(' ') ? `(${name})` : name;
}

function actionName(action: unknown): string | null {
  if (typeof action === 'string') return action;
  if (action && (typeof action === 'object' || typeof action === 'function')) {
    const type = (action as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    const name = (action as { name?: unknown }).name;
    if (typeof name === 'string' && name) return name;
  }
  return null;
}

function initialContext(machine: AnyStateMachine, input: unknown): Record<string, unknown> | undefined {
  try {
    const actor = createActor(machine, { input });
    return actor.getSnapshot().context as Record<string, unknown>;
  } catch {
    const ctx = (machine.config as { context?: unknown }).context;
    try {
      if (typeof ctx === 'function') return (ctx as (a: { input: unknown }) => Record<string, unknown>)({ input });
      if (ctx && typeof ctx === 'object') return ctx as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function resolveDelayMs(machine: AnyStateMachine, delay: string | number, context: Record<string, unknown> | undefined): number | null {
  if (typeof delay === 'number') return delay;
  if (/^\d+(\.\d+)?$/.test(delay)) return Number(delay);
  const impl = (machine.implementations.delays as Record<string, unknown>)[delay];
  if (typeof impl === 'number') return impl;
  if (typeof impl === 'function' && context) {
    try {
      const ms = (impl as (a: unknown, p: unknown) => unknown)({ context, event: { type: 'xstate.init' } }, undefined);
      if (typeof ms === 'number' && Number.isFinite(ms)) return ms;
    } catch {
      return null;
    }
  }
  return null;
}

function lastSegment(id: string): string {
  const i = id.lastIndexOf('.');
  return i < 0 ? id : id.slice(i + 1);
}

/** `1.5 s`, `10 min`, `2 h`, `250 ms`. */
export function formatMs(ms: number): string {
  const round = (x: number) => String(Math.round(x * 10) / 10);
  if (ms < 1000) return `${round(ms)} ms`;
  if (ms < 60_000) return `${round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${round(ms / 60_000)} min`;
  return `${round(ms / 3_600_000)} h`;
}

/** The edge's label: `trigger (delay) [guard] / actions`, named actions only. */
export function edgeLabel(edge: DiagramEdge, withActions = true): string {
  let label = edge.trigger;
  if (edge.delayMs !== null && typeof edge.delay !== 'number') label += ` (${formatMs(edge.delayMs)})`;
  if (edge.guard) label += ` [${edge.guard}]`;
  const named = edge.actions.filter((a) => !a.startsWith('xstate.'));
  if (withActions && named.length > 0) label += ` / ${named.join(', ')}`;
  return label;
}

// ---------------------------------------------------------------------------------------------
// Mermaid

const MERMAID_RESERVED = new Set(['state', 'note', 'end', 'direction', 'class', 'classDef', 'click', 'style', 'as', 'left', 'right', 'of']);

/** Mermaid identifiers: state keys where unique within the machine, else the sanitised path. */
function mermaidIds(graph: MachineGraph): Map<string, string> {
  const counts = new Map<string, number>();
  for (const n of graph.nodes) counts.set(n.key, (counts.get(n.key) ?? 0) + 1);
  const ids = new Map<string, string>();
  for (const n of graph.nodes) {
    let id = (counts.get(n.key) === 1 ? n.key : n.id.slice(graph.root.length + 1)).replace(/[^A-Za-z0-9_]/g, '_');
    if (MERMAID_RESERVED.has(id) || /^\d/.test(id)) id = `s_${id}`;
    ids.set(n.id, id);
  }
  return ids;
}

function mermaidText(text: string): string {
  // Mermaid reads `:`, `;` and `#` specially in labels.
  return text.replace(/[:;#]/g, ' ').replace(/\s+/g, ' ').trim();
}

export function toMermaid(graph: MachineGraph): string {
  const ids = mermaidIds(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = childrenOf(graph);
  const edgesAt = new Map<string, DiagramEdge[]>();
  const internal: DiagramEdge[] = [];
  for (const e of graph.edges) {
    if (e.to === null) {
      internal.push(e);
      continue;
    }
    const lca = lowestCommonCompound(byId, e.from, e.to);
    const list = edgesAt.get(lca) ?? [];
    list.push(e);
    edgesAt.set(lca, list);
  }
  const lines: string[] = ['stateDiagram-v2', `  %% machine: ${graph.machine} (generated from the machine definition)`];
  const emitBlock = (compound: DiagramNode, indent: string) => {
    if (compound.initial) lines.push(`${indent}[*] --> ${ids.get(compound.initial)}`);
    for (const child of children.get(compound.id) ?? []) {
      const id = ids.get(child.id)!;
      if (id !== child.key) lines.push(`${indent}state "${child.key}" as ${id}`);
      if (child.type === 'compound' || child.type === 'parallel') {
        lines.push(`${indent}state ${id} {`);
        emitBlock(child, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (id === child.key) {
        lines.push(`${indent}state ${id}`);
      }
      for (const inv of child.invokes) lines.push(`${indent}${id} : invoke ${mermaidText(inv.src)}`);
    }
    for (const e of edgesAt.get(compound.id) ?? []) {
      const label = mermaidText(edgeLabel(e));
      lines.push(`${indent}${ids.get(e.from)} --> ${ids.get(e.to!)} : ${e.failure ? `${FAILURE_MARK} ` : ''}${label}`);
    }
    for (const child of children.get(compound.id) ?? []) if (child.type === 'final') lines.push(`${indent}${ids.get(child.id)} --> [*]`);
  };
  const root = byId.get(graph.root)!;
  emitBlock(root, '  ');
  for (const e of internal) {
    lines.push(`  %% internal (state is not left): ${ids.get(e.from) ?? e.from} on ${mermaidText(edgeLabel(e))}`);
  }
  const failures = graph.nodes.filter((n) => n.failure).map((n) => ids.get(n.id));
  lines.push('  classDef failure fill:#fde2e2,stroke:#c62828,color:#8e0000');
  if (failures.length) lines.push(`  class ${failures.join(',')} failure`);
  return lines.join('\n') + '\n';
}

function childrenOf(graph: MachineGraph): Map<string, DiagramNode[]> {
  const out = new Map<string, DiagramNode[]>();
  for (const n of graph.nodes) {
    if (n.parent === null) continue;
    const list = out.get(n.parent) ?? [];
    list.push(n);
    out.set(n.parent, list);
  }
  return out;
}

function ancestors(byId: Map<string, DiagramNode>, id: string): string[] {
  const out: string[] = [];
  let cur = byId.get(id)?.parent ?? null;
  while (cur !== null) {
    out.push(cur);
    cur = byId.get(cur)?.parent ?? null;
  }
  return out;
}

/** The deepest compound that is a proper ancestor of both states (a transition's scope). */
function lowestCommonCompound(byId: Map<string, DiagramNode>, a: string, b: string): string {
  const bs = new Set(ancestors(byId, b));
  for (const x of ancestors(byId, a)) if (bs.has(x)) return x;
  return [...bs].pop() ?? a;
}

// ---------------------------------------------------------------------------------------------
// JSON

export function toJson(graph: MachineGraph): string {
  return JSON.stringify(graph, null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------
// SVG

const FONT = "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif";
const TITLE_SIZE = 13;
const SMALL_SIZE = 10;
const ROW_GAP = 64;
const COL_GAP = 56;
const PAD = 16;
const CHANNEL_GAP = 10;
const RED = '#c62828';
const GREY = '#455a64';

const textWidth = (text: string, size: number, bold = false) => Math.ceil(text.length * size * (bold ? 0.64 : 0.6));

interface Box {
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

export function toSvg(graph: MachineGraph): string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = childrenOf(graph);
  const ranks = new Map<string, number>();
  // Rank the children of each compound: longest path from the initial child, back edges removed.
  for (const n of graph.nodes) {
    const kids = children.get(n.id);
    if (!kids) continue;
    rankChildren(n, kids, graph, byId, ranks);
  }

  // Classify edges: `down` (same parent, to a later row), `side` (same row), `self`, or `channel`.
  type Route = 'down' | 'side' | 'self' | 'channel' | 'skip';
  const routed = graph.edges
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
  // Back edges and edges leaving a compound run in channels right of their scope's content;
  // edges that skip rows run in channels on the left (on the right when leaving from the right half).
  const assignChannels = (compound: string, rows: Box[][]): { right: number; left: number } => {
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
  };
  const internal = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.to !== null) continue;
    const list = internal.get(e.from) ?? [];
    list.push(`on ${edgeLabel(e)}`);
    internal.set(e.from, list);
  }

  // Sizes, bottom-up.
  const boxes = new Map<string, Box>();
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
      orderRows(box.rows, routed.map((r) => r.edge), byId, node.id);
      const channels = assignChannels(node.id, box.rows);
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
  const rootBox = size(byId.get(graph.root)!);

  // Placement, top-down.
  const place = (box: Box, x: number, y: number) => {
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
  };
  const MARGIN = 20;
  place(rootBox, MARGIN, MARGIN);

  // Ports: spread several edges leaving/entering the same side.
  const portCount = new Map<string, number>();
  const portIndex = new Map<string, number>();
  const portKey = (id: string, side: string) => `${id}|${side}`;
  const sidesOf = (r: (typeof routed)[number]): [string, string] => {
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
  };
  for (const r of routed) {
    const [a, b] = sidesOf(r);
    portCount.set(portKey(r.edge.from, a), (portCount.get(portKey(r.edge.from, a)) ?? 0) + 1);
    portCount.set(portKey(r.edge.to!, b), (portCount.get(portKey(r.edge.to!, b)) ?? 0) + 1);
  }
  const port = (id: string, side: string) => {
    const k = portKey(id, side);
    const i = portIndex.get(k) ?? 0;
    portIndex.set(k, i + 1);
    return (i + 1) / ((portCount.get(k) ?? 1) + 1);
  };

  const paths: string[] = [];
  const labels: { x: number; y: number; text: string; color: string; anchor: 'start' | 'middle' | 'end' }[] = [];
  for (const r of routed) {
    const e = r.edge;
    const s = boxes.get(e.from)!;
    const t = boxes.get(e.to!)!;
    const [sa, ta] = sidesOf(r);
    const fs = port(e.from, sa);
    const ft = port(e.to!, ta);
    const color = e.failure ? RED : GREY;
    const dash = e.kind === 'after' ? ' stroke-dasharray="6 3"' : '';
    const marker = e.failure ? 'url(#arrow-fail)' : 'url(#arrow)';
    const text = edgeLabel(e);
    let d = '';
    if (r.route === 'self') {
      const x0 = s.x + s.w;
      const y0 = s.y + s.h * 0.3;
      const y1 = s.y + s.h * 0.7;
      d = `M ${x0} ${y0} C ${x0 + 40} ${y0 - 10}, ${x0 + 40} ${y1 + 10}, ${x0} ${y1}`;
      labels.push({ x: x0 + 42, y: (y0 + y1) / 2 + 3, text, color, anchor: 'start' });
    } else if (r.route === 'down') {
      const sx = s.x + s.w * fs;
      const sy = s.y + s.h;
      const tx = t.x + t.w * ft;
      const ty = t.y;
      const dy = Math.min((ty - sy) / 2, 60);
      d = `M ${sx} ${sy} C ${sx} ${sy + dy}, ${tx} ${ty - dy}, ${tx} ${ty}`;
      // Label in the gap right below the source, on the curve.
      const ly = sy + ROW_GAP / 2;
      const u = solveBezierY(sy, sy + dy, ty - dy, ty, ly);
      labels.push({ x: bezier(sx, sx, tx, tx, u), y: ly + 4, text, color, anchor: 'middle' });
    } else if (r.route === 'side') {
      const leftToRight = s.x < t.x;
      const sx = leftToRight ? s.x + s.w : s.x;
      const tx = leftToRight ? t.x : t.x + t.w;
      const sy = s.y + s.h * fs;
      const ty = t.y + t.h * ft;
      d = `M ${sx} ${sy} L ${tx} ${ty}`;
      labels.push({ x: (sx + tx) / 2, y: (sy + ty) / 2 - 4, text, color, anchor: 'middle' });
    } else if (r.route === 'skip') {
      const lca = boxes.get(r.lca)!;
      const X = lca.x + PAD + lca.leftW - 12 - r.channel * CHANNEL_GAP;
      const sx = s.x;
      const sy = s.y + s.h * fs;
      const tx = t.x + t.w * ft;
      const entry = t.y - 14 - r.channel * 3;
      d = `M ${sx} ${sy} H ${X} V ${entry} H ${tx} V ${t.y}`;
      labels.push({ x: sx - 5, y: sy - 4, text, color, anchor: 'end' });
    } else {
      const lca = boxes.get(r.lca)!;
      const X = lca.x + PAD + lca.leftW + lca.contentW + 12 + r.channel * CHANNEL_GAP;
      const sx = s.x + s.w;
      const sy = s.y + Math.min(s.h * fs, s.node.type === 'compound' ? 18 + 8 * fs : s.h);
      if (ta === 'top') {
        const tx = t.x + t.w * ft;
        const ty = t.y;
        const entry = ty - 14 - r.channel * 3;
        d = `M ${sx} ${sy} H ${X} V ${entry} H ${tx} V ${ty}`;
      } else {
        const tx = t.x + t.w;
        const ty = t.y + Math.min(t.h * ft, t.node.type === 'compound' ? 14 + 8 * ft : t.h);
        d = `M ${sx} ${sy} H ${X} V ${ty} H ${tx}`;
      }
      labels.push({ x: sx + 5, y: sy - 4, text, color, anchor: 'start' });
    }
    const title = `${e.from} -> ${e.to}: ${e.event || 'always'}${e.guard ? ` [${e.guard}]` : ''}`;
    paths.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="${e.failure ? 1.6 : 1.3}"${dash} marker-end="${marker}"><title>${xml(title)}</title></path>`,
    );
  }

  // Labels: nudge down/up to avoid overlapping an earlier label.
  const placed: { x0: number; x1: number; y0: number; y1: number }[] = [];
  for (const b of boxes.values()) if (b.children.length === 0) placed.push({ x0: b.x, x1: b.x + b.w, y0: b.y, y1: b.y + b.h });
  const labelSvg: string[] = [];
  for (const l of labels) {
    const w = textWidth(l.text, SMALL_SIZE) + 6;
    let best = l.y;
    const left = l.anchor === 'middle' ? l.x - w / 2 : l.anchor === 'end' ? l.x - w + 3 : l.x - 3;
    for (const dy of [0, -13, 13, -26, 26, -39, 39, -52, 52]) {
      const y = l.y + dy;
      const x0 = left;
      const r = { x0, x1: x0 + w, y0: y - 10, y1: y + 3 };
      if (!placed.some((p) => p.x0 < r.x1 && r.x0 < p.x1 && p.y0 < r.y1 && r.y0 < p.y1)) {
        best = y;
        break;
      }
    }
    const x0 = left;
    placed.push({ x0, x1: x0 + w, y0: best - 10, y1: best + 3 });
    labelSvg.push(
      `<rect x="${r1(x0)}" y="${r1(best - 10)}" width="${w}" height="13" rx="2" fill="#ffffff" fill-opacity="0.88"/>` +
        `<text x="${r1(l.x)}" y="${r1(best)}" font-size="${SMALL_SIZE}" fill="${l.color}" text-anchor="${l.anchor}">${xml(l.text)}</text>`,
    );
  }

  // Boxes: compound backgrounds first (outer to inner), then edges, then atomic boxes, then labels.
  const compoundSvg: string[] = [];
  const atomicSvg: string[] = [];
  const drawBox = (b: Box) => {
    const n = b.node;
    const stroke = n.failure ? RED : n.parent === null ? '#263238' : '#546e7a';
    if (b.children.length > 0) {
      const fill = n.parent === null ? '#fafafa' : n.depth % 2 === 1 ? '#eef3f7' : '#f7fafc';
      compoundSvg.push(
        `<g class="state compound" data-id="${xml(n.id)}"><rect x="${r1(b.x)}" y="${r1(b.y)}" width="${r1(b.w)}" height="${r1(b.h)}" rx="10" fill="${fill}" stroke="${stroke}" stroke-width="1.2"/>` +
          `<text x="${r1(b.x + 12)}" y="${r1(b.y + 18)}" font-size="${TITLE_SIZE}" font-weight="bold" fill="#263238">${xml(n.parent === null ? `machine ${n.key}` : n.key)}</text>` +
          b.lines.map((l, i) => `<text x="${r1(b.x + 12)}" y="${r1(b.y + 33 + i * 13)}" font-size="${SMALL_SIZE}" fill="#546e7a">${xml(l)}</text>`).join('') +
          '</g>',
      );
      if (n.initial) {
        const init = boxes.get(n.initial)!;
        const cx = init.x + init.w / 2;
        const cy = init.y - 16;
        compoundSvg.push(
          `<circle cx="${r1(cx - 22)}" cy="${r1(cy)}" r="5" fill="#263238"/><path d="M ${r1(cx - 17)} ${r1(cy)} Q ${r1(cx)} ${r1(cy)}, ${r1(cx)} ${r1(init.y)}" fill="none" stroke="#263238" stroke-width="1.2" marker-end="url(#arrow)"/>`,
        );
      }
      for (const c of b.children) drawBox(c);
      return;
    }
    const fill = n.failure ? '#fde2e2' : n.type === 'final' ? '#eceff1' : '#ffffff';
    let svg = `<g class="state ${n.type}" data-id="${xml(n.id)}"><rect x="${r1(b.x)}" y="${r1(b.y)}" width="${r1(b.w)}" height="${r1(b.h)}" rx="8" fill="${fill}" stroke="${stroke}" stroke-width="1.3"/>`;
    if (n.type === 'final')
      svg += `<rect x="${r1(b.x + 3)}" y="${r1(b.y + 3)}" width="${r1(b.w - 6)}" height="${r1(b.h - 6)}" rx="6" fill="none" stroke="${stroke}" stroke-width="1"/>`;
    svg += `<text x="${r1(b.x + b.w / 2)}" y="${r1(b.y + 19)}" font-size="${TITLE_SIZE}" font-weight="bold" text-anchor="middle" fill="${n.failure ? '#8e0000' : '#263238'}">${xml(n.key)}</text>`;
    b.lines.forEach((l, i) => {
      svg += `<text x="${r1(b.x + b.w / 2)}" y="${r1(b.y + 33 + i * 13)}" font-size="${SMALL_SIZE}" text-anchor="middle" fill="#546e7a" font-style="italic">${xml(l)}</text>`;
    });
    atomicSvg.push(svg + '</g>');
  };
  drawBox(rootBox);

  // Legend.
  const W = Math.ceil(rootBox.x + rootBox.w + MARGIN + 8);
  const legendY = Math.ceil(rootBox.y + rootBox.h + 24);
  const legend = [
    `<g class="legend" font-size="${SMALL_SIZE}" fill="#263238">`,
    `<path d="M ${MARGIN} ${legendY} h 34" stroke="${GREY}" stroke-width="1.3" marker-end="url(#arrow)"/><text x="${MARGIN + 42}" y="${legendY + 4}">transition</text>`,
    `<path d="M ${MARGIN + 120} ${legendY} h 34" stroke="${RED}" stroke-width="1.6" marker-end="url(#arrow-fail)"/><text x="${MARGIN + 162}" y="${legendY + 4}">failure (error, to failed/aborting)</text>`,
    `<path d="M ${MARGIN + 360} ${legendY} h 34" stroke="${RED}" stroke-width="1.6" stroke-dasharray="6 3" marker-end="url(#arrow-fail)"/><text x="${MARGIN + 402}" y="${legendY + 4}">deadline (after)</text>`,
    '</g>',
  ].join('');
  const H = legendY + 20;
  const width = Math.max(W, MARGIN + 520);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="${xml(FONT)}">`,
    `<title>${xml(`${graph.machine} machine`)}</title>`,
    '<defs>',
    `<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${GREY}"/></marker>`,
    `<marker id="arrow-fail" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${RED}"/></marker>`,
    '</defs>',
    `<rect x="0" y="0" width="${width}" height="${H}" fill="#ffffff"/>`,
    ...compoundSvg,
    `<g class="edges">${paths.join('')}</g>`,
    ...atomicSvg,
    `<g class="labels">${labelSvg.join('')}</g>`,
    legend,
    '</svg>',
    '',
  ].join('\n');
}

function rankChildren(
  parent: DiagramNode,
  kids: DiagramNode[],
  graph: MachineGraph,
  byId: Map<string, DiagramNode>,
  ranks: Map<string, number>,
): void {
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

const r1 = (x: number) => String(Math.round(x * 10) / 10);

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ---------------------------------------------------------------------------------------------

export function drawMachine(machine: AnyStateMachine, format: DiagramFormat, options: DiagramOptions = {}): string {
  const graph = machineGraph(machine, options);
  if (format === 'mermaid') return toMermaid(graph);
  if (format === 'json') return toJson(graph);
  return toSvg(graph);
}
