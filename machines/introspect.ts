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
