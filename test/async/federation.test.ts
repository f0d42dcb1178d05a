import { describe, expect, it } from 'vitest';
import { runFederation, type RunResult } from '../../actors/federation.js';
import type { AdapterWeights } from '../../core/models/model.js';
import { stalenessWeight } from '../../core/learning/staleness.js';
import type { RoundMetrics } from '../../core/records.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { bigramLearning, bigramScenario, eventsOf } from '../faults/helpers.js';

const LEARNT = ['accuracy', 'accuracyNorm', 'publicCE', 'trainLoss', 'distillLoss'] as const;

/** What a run learnt: every actor's figures per round, and each model's final weights. */
async function learnt(scenario: Scenario): Promise<{ result: RunResult; figures: string[]; weights: Record<string, AdapterWeights> }> {
  const weights: Record<string, AdapterWeights> = {};
  const result = await runFederation(scenario, {
    learning: bigramLearning(),
    onFinish: async (parties) => {
      for (const p of parties) weights[p.id] = p.model.getAdapter();
    },
  });
  const figures = result.recorder.metrics.map((m: RoundMetrics) => `${m.actor}@${m.round} ${LEARNT.map((k) => `${k}=${m[k]}`).join(' ')}`).sort();
  return { result, figures, weights };
}

function scenarioOf(mode: 'sync' | 'buffered' | 'async', seed: number, extra: Partial<Scenario['protocol']> = {}, profiles?: string[]): Scenario {
  const s = bigramScenario({ clients: 3, rounds: 3, seed, ...(profiles ? { profiles } : {}) });
  s.protocol.awaitSLMLogits.quorum = 3;
  Object.assign(s.protocol, { mode, ...extra });
  return s;
}

const SLOW_C3 = [
  '{ msPerTrainSample: 20, bandwidthMbps: 50, latencyMs: 20 }',
  '{ msPerTrainSample: 30, bandwidthMbps: 50, latencyMs: 20 }',
  '{ msPerTrainSample: 2000, bandwidthMbps: 50, latencyMs: 20 }',
];

describe('buffered and asynchronous FedMKT', () => {
  it.each([5, 6, 7])('buffered with bufferSize = every client and no stragglers learns exactly what sync learns (seed %i)', async (seed) => {
    const sync = await learnt(scenarioOf('sync', seed));
    const buffered = await learnt(scenarioOf('buffered', seed, { bufferSize: 3 }));
    expect(sync.result.violations).toEqual([]);
    expect(buffered.result.violations).toEqual([]);
    expect(buffered.result.finalStates).toEqual({ server: 'done', c1: 'done', c2: 'done', c3: 'done' });
    expect(buffered.figures).toEqual(sync.figures);
    expect(buffered.figures).toHaveLength(4 * 4);
    expect(Object.keys(buffered.weights)).toEqual(['server', 'c1', 'c2', 'c3']);
    for (const id of Object.keys(sync.weights)) expect(buffered.weights[id]).toEqual(sync.weights[id]);
    // Every upload was fresh and used once.
    const used = eventsOf(buffered.result.recorder.events, 'used');
    expect(used).toHaveLength(9);
    expect(used.every((e) => e.staleness === 0)).toBe(true);
  });

  it.each([1, 2, 3])(
    'a straggler never blocks the others: buffered (2 of 3) and async publish every version before its first upload (seed %i)',
    async (seed) => {
      for (const mode of ['buffered', 'async'] as const) {
        const { result } = await learnt(scenarioOf(mode, seed, mode === 'buffered' ? { bufferSize: 2 } : {}, SLOW_C3));
        const events = result.recorder.events;
        expect(result.violations).toEqual([]);
        expect(result.failures).toEqual({});
        const published = events.filter((e) => e.actor === 'server' && e.kind === 'send' && e.type === 'llm-logits');
        expect(published.map((e) => e.round)).toEqual([1, 2, 3]);
        const c3Upload = events.find((e) => e.actor === 'c3' && e.kind === 'send' && e.type === 'slm-logits');
        expect(c3Upload!.t).toBeGreaterThan(published[2]!.t);
        expect(eventsOf(events, 'used').some((e) => e.sender === 'c3')).toBe(false);
      }
    },
  );

  it('applies the staleness weighting as configured, and drops uploads beyond maxStaleness', async () => {
    const weightings = [
      { weighting: 'polynomial', a: 0.5, b: 4, maxStaleness: 8 },
      { weighting: 'hinge', a: 1, b: 0, maxStaleness: 8 },
      { weighting: 'constant', a: 0.5, b: 4, maxStaleness: 8 },
    ] as const;
    const slowish = [SLOW_C3[0]!, SLOW_C3[1]!, '{ msPerTrainSample: 90, bandwidthMbps: 50, latencyMs: 20 }'];
    for (const staleness of weightings) {
      const s = scenarioOf('async', 4, { staleness: { ...staleness } }, slowish);
      s.rounds = 6;
      const { result } = await learnt(s);
      expect(result.violations).toEqual([]);
      const server = result.recorder.metrics.filter((m) => m.actor === 'server' && m.round > 0);
      const seen = server.flatMap((m) => m.staleness as number[]);
      expect(seen.some((x) => x > 0)).toBe(true);
      const kind = staleness.weighting === 'constant' ? { kind: 'constant' as const } : { kind: staleness.weighting, a: staleness.a, b: staleness.b };
      for (const m of server) expect(m.stalenessWeights).toEqual((m.staleness as number[]).map((x) => stalenessWeight(kind, x)));
    }
    const strict = scenarioOf('async', 4, { staleness: { weighting: 'constant', a: 0.5, b: 4, maxStaleness: 0 } }, slowish);
    strict.rounds = 6;
    const { result } = await learnt(strict);
    expect(result.violations).toEqual([]);
    const used = eventsOf(result.recorder.events, 'used');
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((e) => e.staleness === 0)).toBe(true);
    expect(eventsOf(result.recorder.events, 'ignored', 'server').some((e) => e.reason === 'late' && e.message === 'slm-logits')).toBe(true);
  });

  it('ends at the time budget, announcing the finish to every client', async () => {
    const s = scenarioOf('buffered', 2, { bufferSize: 3, timeBudgetMs: 1500 });
    s.rounds = 50;
    const { result } = await learnt(s);
    expect(result.violations).toEqual([]);
    expect(result.finalStates).toEqual({ server: 'done', c1: 'done', c2: 'done', c3: 'done' });
    const budget = eventsOf(result.recorder.events, 'deadline', 'server').find((e) => e.action === 'time-budget');
    expect(budget).toBeDefined();
    const published = result.recorder.events.filter((e) => e.actor === 'server' && e.kind === 'send' && e.type === 'llm-logits');
    expect(published.length).toBeGreaterThan(0);
    expect(published.length).toBeLessThan(50);
  });
});

describe('failure transitions of the asynchronous machines', () => {
  it.each(['buffered', 'async'] as const)(
    '%s: a server crash and restart, a client gone for good, lost uploads: the run ends, invariants kept',
    async (mode) => {
      for (const seed of [1, 2]) {
        const s = bigramScenario({
          clients: 3,
          rounds: 5,
          seed,
          extra: `faults:
  crashes:
    - { actor: server, round: 2, state: distillFromSLMs, restartAfterMs: 2000 }
    - { actor: c3, round: 1, state: trainPrivate, restartAfterMs: never }
  messages:
    - { action: drop, type: slm-logits, from: c1, p: 0.3 }`,
        });
        s.protocol.mode = mode;
        if (mode === 'buffered') s.protocol.bufferSize = 2;
        const { result } = await learnt(s);
        expect(result.violations).toEqual([]);
        expect(result.finalStates.server).toBe('done');
        expect(result.finalStates.c3).toMatch(/^offline/);
        expect(result.failures).toEqual({});
        const events = result.recorder.events;
        expect(
          eventsOf(events, 'crash')
            .map((e) => e.actor)
            .sort(),
        ).toEqual(['c3', 'server']);
        const published = events.filter((e) => e.actor === 'server' && e.kind === 'send' && e.type === 'llm-logits').map((e) => e.round);
        expect(published[published.length - 1]).toBe(5);
      }
    },
  );
});
