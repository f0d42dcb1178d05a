/**
 * A machine DEFINITION (not a run) as a graph: its states, nested states, transitions with their
 * event types, guards, delays, invoked work and final states, read from `machine.root`. What
 * diagram.ts draws (Mermaid text, JSON, SVG).
 */
import { createActor, type AnyStateMachine, type AnyStateNode } from 'xstate';

type NodeType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

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
type EdgeKind = 'event' | 'always' | 'after' | 'invoke.done' | 'invoke.error' | 'state.done';

type FailureReason = 'error' | 'failure-target' | 'deadline';

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
const FAILURE_STATE_KEYS: readonly string[] = ['failed', 'aborting'];
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
function formatMs(ms: number): string {
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
// The tree

/** The children of each compound state, in definition order. */
export function childrenOf(graph: MachineGraph): Map<string, DiagramNode[]> {
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
export function lowestCommonCompound(byId: Map<string, DiagramNode>, a: string, b: string): string {
  const bs = new Set(ancestors(byId, b));
  for (const x of ancestors(byId, a)) if (bs.has(x)) return x;
  return [...bs].pop() ?? a;
}
