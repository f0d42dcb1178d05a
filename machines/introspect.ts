/**
 * Reads a machine definition itself (not a drawing of it): its states, the delayed
 * transitions and invoked work. Tests traverse with it; diagrams draw from it.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface MachineOutline {
  /** Every state node id, e.g. `client.round.trainPrivate`. */
  states: string[];
  /** Ids of final states. */
  finals: string[];
  /** Event types of delayed transitions (`xstate.after.<delay>.<state id>`). */
  delayedEvents: string[];
  /** Ids of invoked actors (each is also its `src`). */
  invokes: string[];
}

export function outline(machine: AnyStateMachine): MachineOutline {
  const out: MachineOutline = { states: [], finals: [], delayedEvents: [], invokes: [] };
  const walk = (node: AnyStateNode) => {
    out.states.push(node.id);
    if (node.type === 'final') out.finals.push(node.id);
    for (const t of node.after) if (!out.delayedEvents.includes(t.eventType)) out.delayedEvents.push(t.eventType);
    for (const inv of node.invoke) if (!out.invokes.includes(inv.id)) out.invokes.push(inv.id);
    for (const child of Object.values(node.states)) walk(child as AnyStateNode);
  };
  walk(machine.root);
  return out;
}

/** `trainPrivate`, `fedAvg.awaitAverage`, `done`: a state value's active leaf, without the `round.` wrapper. */
export function leafStateName(value: unknown): string {
  const parts: string[] = [];
  let cur = value;
  while (cur !== null && typeof cur === 'object') {
    const [key, next] = Object.entries(cur as Record<string, unknown>)[0] ?? [];
    if (key === undefined) break;
    parts.push(key);
    cur = next;
  }
  if (typeof cur === 'string') parts.push(cur);
  if (parts[0] === 'round' && parts.length > 1) parts.shift();
  return parts.join('.');
}
