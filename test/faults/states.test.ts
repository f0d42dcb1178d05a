/** The state names faults and invariants use are exactly the machines' leaves. */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { CLIENT_STATES, CLIENT_TRANSIENT_STATES, SERVER_STATES, SERVER_TRANSIENT_STATES } from '../../core/faults/states.js';
import { clientMachine } from '../../machines/client.js';
import { serverMachine } from '../../machines/server.js';

function leaves(machine: AnyStateMachine): string[] {
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

describe('state names', () => {
  it('client: resting and transient states cover the machine exactly', () => {
    expect([...CLIENT_STATES, ...CLIENT_TRANSIENT_STATES].sort()).toEqual(leaves(clientMachine));
  });
  it('server: resting and transient states cover the machine exactly', () => {
    expect([...SERVER_STATES, ...SERVER_TRANSIENT_STATES].sort()).toEqual(leaves(serverMachine));
  });
});
