import { getShortestPaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { getInitialMicrosteps, getMicrosteps, type AnyStateMachine, type EventObject, type Snapshot } from 'xstate';
import { clientMachine } from '../../machines/client.js';
import { outline } from '../../machines/introspect.js';
import { serverMachine } from '../../machines/server.js';
import { bookIds, type UploadBook } from '../../core/upload-book.js';
import { tinyLogits } from './fixtures.js';

type AnySnapshot = Snapshot<unknown> & { value: unknown; context: Record<string, unknown>; status: string };

const outputs: Record<string, unknown> = {
  computePublicLogits: { logits: tinyLogits() },
  computeLLMLogits: { logits: tinyLogits() },
  alignLLMTokens: { teacher: {} },
  alignSLMTokens: { teachers: [] },
  trainPrivate: { loss: 1 },
  distillFromLLM: { loss: 1 },
  distillFromSLMs: { loss: 1 },
};

/** Every event a machine can meet: work finishing or failing, deadlines, and messages. */
function eventsFor(machine: AnyStateMachine, messages: (s: AnySnapshot) => EventObject[]) {
  const o = outline(machine);
  const work = o.invokes.flatMap((id) => [
    { type: `xstate.done.actor.${id}`, output: outputs[id] } as EventObject,
    { type: `xstate.error.actor.${id}`, error: new Error('boom') } as EventObject,
  ]);
  const deadlines = o.delayedEvents.map((type) => ({ type }));
  return (s: AnySnapshot) => [...work, ...deadlines, ...messages(s)];
}

function serialize(s: AnySnapshot): string {
  const c = s.context;
  const keys = (x: unknown) =>
    Object.keys((x as object | null) ?? {})
      .sort()
      .join(',');
  return JSON.stringify([
    s.value,
    c.round,
    c.announcedRound,
    c.finishRequested,
    c.uploads
      ? bookIds(c.uploads as UploadBook<unknown>)
          .sort()
          .join(',')
      : '',
    keys(c.adapters),
    c.llmLogits ? 1 : 0,
    c.earlyLLMLogits ? 1 : 0,
    c.missedLLM,
    c.averageMissed,
    c.adaptersClosed,
    c.adapterAverage ? 1 : 0,
  ]);
}

function reachableAndTerminating(machine: AnyStateMachine, input: unknown, messages: (s: AnySnapshot) => EventObject[]) {
  const events = eventsFor(machine, messages);
  const paths = getShortestPaths(machine, {
    input,
    events: events as never,
    serializeState: (s) => serialize(s as unknown as AnySnapshot),
    limit: 20_000,
  });
  const reachedLeaves = new Set<string>();
  for (const p of paths) {
    const snap = p.state as unknown as AnySnapshot;
    for (const id of machine.resolveState(snap as never)._nodes.map((n: { id: string }) => n.id)) reachedLeaves.add(id);
  }
  // Pass-through states (`start`, `llmLogitsMissing`, a compound's final child) are entered and
  // left within one macrostep, so no resting snapshot shows them: replay the microsteps.
  for (const [micro] of getInitialMicrosteps(machine, input as never)) {
    for (const n of (micro as unknown as { _nodes: { id: string }[] })._nodes) reachedLeaves.add(n.id);
  }
  for (const p of paths) {
    let prev = p.steps.length ? undefined : p.state;
    for (const step of p.steps) {
      if (prev) {
        for (const [micro] of getMicrosteps(machine, prev as never, step.event as never)) {
          for (const n of (micro as unknown as { _nodes: { id: string }[] })._nodes) reachedLeaves.add(n.id);
        }
      }
      prev = step.state;
    }
  }
  return { paths, reachedLeaves, events };
}

describe('machine graphs', () => {
  it('client: every state is reachable and every reachable state can still end in done or failed', () => {
    const input = {
      id: 'c1',
      totalRounds: 2,
      policy: { llmLogitsDeadlineMs: 10, onMissingLLMLogits: 'self-distil', adapterDeadlineMs: 10, serverSilenceMs: 100, fedAvg: true },
    };
    const messages = (s: AnySnapshot): EventObject[] => {
      const r = s.context.round as number;
      const events = [
        { type: 'ROUND_START', round: r + 1, sender: 'server', messageId: `rs${r + 1}`, uploadDeadline: 10 },
        { type: 'LLM_LOGITS', round: r, sender: 'server', messageId: `ll${r}`, logits: tinyLogits() },
        { type: 'LLM_LOGITS', round: r + 1, sender: 'server', messageId: `ll${r + 1}`, logits: tinyLogits() },
        { type: 'ADAPTER_AVERAGE', round: r, sender: 'server', messageId: `aa${r}`, tensors: {} },
        { type: 'FINISH', round: r, sender: 'server', messageId: 'fin', reason: 'completed' },
      ];
      return events as EventObject[];
    };
    const { paths, reachedLeaves, events } = reachableAndTerminating(clientMachine, input, messages);
    // A population's client lives for the one round it was selected for, then is released.
    const population = reachableAndTerminating(clientMachine, { ...input, selectedRound: 2 }, messages);
    paths.push(...population.paths);
    for (const leaf of population.reachedLeaves) reachedLeaves.add(leaf);
    const all = outline(clientMachine).states;
    expect(all.filter((id) => !reachedLeaves.has(id))).toEqual([]);
    for (const name of ['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'alignLLMTokens', 'distillFromLLM', 'fedAvg'])
      expect(all).toContain(`client.round.${name}`);
    // From every reachable state a final state is still reachable: no dead ends.
    for (const p of paths) {
      const endings = getShortestPaths(clientMachine, {
        fromState: p.state as never,
        events: events as never,
        serializeState: (s) => serialize(s as unknown as AnySnapshot),
        toState: (s) => (s as unknown as AnySnapshot).status === 'done',
        limit: 20_000,
      });
      expect(endings.length, `stuck after ${serialize(p.state as unknown as AnySnapshot)}`).toBeGreaterThan(0);
    }
  });

  it('server: every state is reachable and every reachable state can still end in done or failed', () => {
    for (const onQuorumLost of ['skip-round', 'abort'] as const) {
      const input = {
        totalRounds: 2,
        clients: ['c1', 'c2'],
        policy: { uploadDeadlineMs: 10, quorum: 1, onQuorumLost, adapterDeadlineMs: 10, fedAvg: true, llmFrozen: false },
      };
      const messages = (s: AnySnapshot): EventObject[] => {
        const r = s.context.round as number;
        return ['c1', 'c2'].flatMap((c) => [
          { type: 'SLM_LOGITS', round: r, sender: c, messageId: `${c}:${r}`, logits: tinyLogits() },
          { type: 'ADAPTER', round: r, sender: c, messageId: `${c}:a${r}`, tensors: {}, weight: 1 },
        ]) as EventObject[];
      };
      const { paths, reachedLeaves, events } = reachableAndTerminating(serverMachine, input, messages);
      const all = outline(serverMachine).states;
      const missing = all.filter((id) => !reachedLeaves.has(id));
      // `aborting` is only reachable under the abort policy, `roundSkipped` under skip-round.
      expect(missing).toEqual(onQuorumLost === 'abort' ? ['server.round.roundSkipped'] : ['server.aborting']);
      for (const name of ['awaitSLMLogits', 'alignSLMTokens', 'distillFromSLMs', 'computeLLMLogits', 'broadcastLLMLogits'])
        expect(all).toContain(`server.round.${name}`);
      for (const p of paths) {
        const endings = getShortestPaths(serverMachine, {
          fromState: p.state as never,
          events: events as never,
          serializeState: (s) => serialize(s as unknown as AnySnapshot),
          toState: (s) => (s as unknown as AnySnapshot).status === 'done',
          limit: 20_000,
        });
        expect(endings.length, `stuck after ${serialize(p.state as unknown as AnySnapshot)}`).toBeGreaterThan(0);
      }
    }
  });
});
