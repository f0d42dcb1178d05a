/** Composite guards are drawn with their parts: `resuming and moreRounds`, not `[and]`. */
import { describe, expect, it } from 'vitest';
import { and, createMachine, not, or, type AnyStateMachine } from 'xstate';
import { edgeLabel, machineGraph } from '../../apps/diagram/index.js';
import { serverMachine } from '../../machines/server.js';

describe('composite guards in diagrams', () => {
  it("draws the server's resume check with its two parts", () => {
    const guards = machineGraph(serverMachine as unknown as AnyStateMachine).edges.map((e) => e.guard);
    expect(guards).toContain('resuming and moreRounds');
    expect(guards).not.toContain('and');
  });

  it('draws and, or and not, nested ones in parentheses', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: {
          always: [
            { guard: and(['x', or(['y', 'z'])]), target: 'b' },
            { guard: not('x'), target: 'b' },
            { guard: or([not('y'), 'z']), target: 'b' },
          ],
        },
        b: { type: 'final' },
      },
    });
    const edges = machineGraph(machine as unknown as AnyStateMachine).edges;
    expect(edges.map((e) => e.guard)).toEqual(['x and (y or z)', 'not x', '(not y) or z']);
    expect(edgeLabel(edges[0]!)).toBe('always [x and (y or z)]');
  });
});
