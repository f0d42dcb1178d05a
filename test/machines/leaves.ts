import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** A machine's leaf states as the fault specs and invariants name them (the `round.` prefix left out), sorted. */
export function leaves(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (node: AnyStateNode, path: string[]) => {
    const children = Object.entries(node.states);
    if (children.length === 0) {
      out.push((path[0] === 'round' ? path.slice(1) : path).join('.'));
      return;
    }
    for (const [key, child] of children) walk(child as AnyStateNode, [...path, key]);
  };
  walk(machine.root, []);
  return out.sort();
}
