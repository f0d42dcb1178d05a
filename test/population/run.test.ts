/**
 * A population in the protocol: selection per round, over-commit, stragglers, availability.
 */
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { parseScenario } from '../../core/scenario/load.js';
import type { RunEvent } from '../../core/records.js';
import { datasetsAvailable } from '../../core/data/datasets-root.js';
import { head, population, profile } from './scenario.js';

async function run(text: string) {
  const result = await runFederation(parseScenario(text), { learning: protocolOnlyLearningStack() });
  expect(result.violations.map((v) => v.message)).toEqual([]);
  expect(result.failures).toEqual({});
  return result;
}

const of = (events: readonly RunEvent[], kind: string) => events.filter((e) => e.kind === kind);

describe('a population of 10 with perRound 10 is the list of its 10 clients', () => {
  for (const seed of [1, 2, 7]) {
    it(`same trace as the explicit list (seed ${seed})`, async () => {
      const pop = `${head(seed)}population:
  count: 10
  clients: [{ model: null, tokenizer: gpt2, profile: ${profile} }]
selection: { perRound: 10, overcommit: 1.3 }
`;
      const list = `${head(seed)}clients:
${Array.from({ length: 10 }, (_, i) => `  - { id: c${i}, model: null, tokenizer: gpt2, profile: ${profile} }`).join('\n')}
`;
      const a = await run(pop);
      const b = await run(list);
      expect(a.recorder.events.length).toBeGreaterThan(500);
      expect(JSON.stringify(a.recorder.events)).toBe(JSON.stringify(b.recorder.events));
      expect(JSON.stringify(a.recorder.metrics)).toBe(JSON.stringify(b.recorder.metrics));
    });
  }
});

describe('selection in the protocol', () => {
  for (const seed of [1, 5, 42]) {
    for (const strategy of ['random', 'round-robin', 'availability-aware']) {
      it(`announces perRound x overcommit, proceeds on perRound uploads, the rest stragglers (${strategy}, seed ${seed})`, async () => {
        const r = await run(population(seed, 500, `{ perRound: 20, overcommit: 1.5, strategy: ${strategy} }`));
        const events = r.recorder.events;
        const selections = of(events, 'selection');
        expect(selections.map((e) => e.round)).toEqual([1, 2, 3]);
        for (const s of selections) {
          const chosen = s.clients as string[];
          expect(chosen.length).toBe(30);
          expect(new Set(chosen).size).toBe(30);
          // Announced to the selected only, by name.
          const announced = events
            .filter((e) => e.kind === 'send' && e.type === 'round-start' && e.round === s.round)
            .map((e) => String(e.subject).split('.').pop());
          expect(announced).toEqual(chosen);
          const taken = events.filter((e) => e.actor === 'server' && e.kind === 'accepted' && e.message === 'slm-logits' && e.round === s.round);
          expect(taken.length).toBe(20);
          expect(taken.every((e) => chosen.includes(String(e.sender)))).toBe(true);
          const stragglers = of(events, 'stragglers').find((e) => e.round === s.round)!.clients as string[];
          expect(stragglers.length).toBe(10);
          expect(stragglers.every((c) => chosen.includes(c) && !taken.some((e) => e.sender === c))).toBe(true);
          // Nobody unselected works on the round.
          const workers = new Set(events.filter((e) => e.kind === 'state' && e.state === 'trainPrivate' && e.round === s.round).map((e) => e.actor));
          expect([...workers].every((c) => chosen.includes(c))).toBe(true);
        }
        // Stragglers' uploads arrive late and are ignored (the default staleness policy).
        expect(
          of(events, 'ignored')
            .filter((e) => e.message === 'slm-logits')
            .every((e) => e.reason === 'late'),
        ).toBe(true);
        expect(r.finalStates).toEqual({ server: 'done' });
      });
    }
  }

  it("a staleness policy counts a straggler's late upload toward the next round", async () => {
    const text = population(3, 300, '{ perRound: 10, overcommit: 2 }').replace('quorum: 0.5 }', 'quorum: 0.5, lateMessages: { acceptWithinRounds: 1 } }');
    const r = await run(text);
    const late = r.recorder.events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && typeof e.msgRound === 'number');
    expect(late.length).toBeGreaterThan(0);
  });

  for (const seed of [2, 9]) {
    it(`selects only clients online at the announcement; one going offline mid-round drops out then (seed ${seed})`, async () => {
      const availability = '  availability: { diurnal: { periodMs: 20000, onlineFraction: 0.4, sessionMs: 1500 } }';
      const r = await run(population(seed, 400, '{ perRound: 15, overcommit: 1.3, strategy: random }', availability, 4));
      const events = r.recorder.events;
      const { diurnalAvailability } = await import('../../core/population/availability.js');
      const model = diurnalAvailability(seed, { periodMs: 20000, onlineFraction: 0.4, sessionMs: 1500 });
      for (const s of of(events, 'selection')) for (const c of s.clients as string[]) expect(model.onlineUntil(Number(c.slice(1)), s.t)).not.toBeNull();
      const dropouts = of(events, 'dropout').filter((e) => e.cause === 'availability');
      expect(dropouts.length).toBeGreaterThan(0);
      for (const d of dropouts) expect(model.onlineUntil(Number(d.actor.slice(1)), d.t - 1e-6)).not.toBeNull();
    });
  }
});

describe('seeing a population', () => {
  it("the server's metrics give each round's announced, uploads, stragglers, dropouts and time to quorum; the run table aggregates", async () => {
    const availability = '  availability: { diurnal: { periodMs: 20000, onlineFraction: 0.4, sessionMs: 1500 } }';
    const r = await run(population(4, 400, '{ perRound: 15, overcommit: 1.3 }', availability, 4));
    const server = r.recorder.metrics.filter((m) => m.actor === 'server' && m.round > 0);
    expect(server.map((m) => m.announced)).toEqual([20, 20, 20, 20]);
    for (const m of server) {
      expect(m.uploads).toBe(15);
      expect(m.stragglers).toBe(5);
      expect(typeof m.dropouts).toBe('number');
      expect(m.timeToQuorumS).toBeGreaterThan(0);
    }
    // Dropouts of the round's clients by the server's end of that round.
    for (const m of server) {
      const end = r.recorder.events.find((e) => e.actor === 'server' && e.kind === 'state' && e.state === 'roundEnd' && e.round === m.round)!;
      const chosen = r.recorder.events.find((e) => e.kind === 'selection' && e.round === m.round)!;
      const mine = r.recorder.events.filter((e) => e.kind === 'dropout' && (chosen.clients as string[]).includes(e.actor) && e.t >= chosen.t && e.t <= end.t);
      expect(m.dropouts).toBe(mine.length);
    }
    expect(server.some((m) => (m.dropouts as number) > 0)).toBe(true);
    // Each selection names the template of every client chosen; the population event what each template is.
    const { PopulationModel } = await import('../../core/population/population.js');
    const model = PopulationModel.of(parseScenario(population(4, 400, '{ perRound: 15, overcommit: 1.3 }', availability, 4)));
    for (const s of of(r.recorder.events, 'selection')) expect(s.templates).toEqual((s.clients as string[]).map((c) => model.templateOf(model.indexOf(c)!)));
    expect(of(r.recorder.events, 'population')[0]!.templates).toEqual(['no model, gpt2', 'no model, llama2']);
    const { printRunOutcome, roundSummaryTable } = await import('../../cli/summary.js');
    let printed = '';
    printRunOutcome(r, 'out', 'virtual', (text) => (printed += text));
    expect(printed).toContain('\ntemplates: template 0 (no model, gpt2), template 1 (no model, llama2)\n');
    const table = roundSummaryTable(r.recorder.metrics).split('\n');
    expect(table[0]).toMatch(/round +acc server +acc clients +acc template 0 +acc template 1 +measured +announced +uploads +stragglers +dropouts +to quorum s/);
    const measured = r.recorder.metrics.filter((m) => m.role === 'client');
    expect(measured.length).toBeGreaterThan(0);
    expect(measured.every((m) => m.template === 0 || m.template === 1)).toBe(true);
    expect(table).toHaveLength(2 + 5);
    // The report draws the measured clients as one line per template: each round's mean.
    const { accuracySeries } = await import('../../apps/report/charts.js');
    const series = accuracySeries(r.recorder.metrics);
    expect(
      series
        .filter((s) => s.role === 'client')
        .map((s) => s.key)
        .sort(),
    ).toEqual(['template:0', 'template:1']);
    for (const s of series.filter((s) => s.role === 'client'))
      for (const [round, accuracy] of s.points) {
        const rows = measured.filter((m) => m.round === round && `template:${m.template}` === s.key).map((m) => m.accuracy as number);
        expect(accuracy).toBeCloseTo(rows.reduce((a, b) => a + b, 0) / rows.length, 12);
      }
  });
});

describe('faults in a population', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`dropouts (never rejoining: a later selection is a new life) and crashes with restarts keep every invariant (seed ${seed})`, async () => {
      const faults = `faults:
  dropout: { p: 0.3, state: computePublicLogits, rejoinAfterRounds: 1 }
  crashes:
    - { actor: server, round: 2, state: awaitSLMLogits, restartAfterMs: 500 }
    - { actor: server, round: 3, state: alignSLMTokens, restartAfterMs: 500 }
`;
      const r = await run(`${population(seed, 60, '{ perRound: 8, overcommit: 1.5 }', '', 5)}${faults}`);
      const dropouts = of(r.recorder.events, 'dropout');
      expect(dropouts.length).toBeGreaterThan(0);
      expect(dropouts.every((e) => e.rejoinRound === null)).toBe(true);
      expect(r.finalStates.server).toBe('done');
      // From the announcement to the end of collection (alignment starting), as the server restarted in round 3 still knows.
      for (const m of r.recorder.metrics.filter((row) => row.actor === 'server' && typeof row.timeToQuorumS === 'number')) {
        const announced = of(r.recorder.events, 'selection').find((e) => e.round === m.round)!.t;
        const closed = r.recorder.events.find((e) => e.actor === 'server' && e.round === m.round && e.state === 'alignSLMTokens')!.t;
        const downMs = m.round === 3 ? 500 : 0;
        expect(m.timeToQuorumS as number).toBeGreaterThanOrEqual((closed - announced) / 1000 - 1e-9);
        expect(m.timeToQuorumS as number).toBeLessThanOrEqual((closed - announced + downMs) / 1000 + 1e-9);
      }
    });
  }
});

describe('a client crashed for good', () => {
  for (const seed of [1, 2, 3]) {
    it(`is gone from its round at once and, selected again, takes part in a new life (seed ${seed})`, async () => {
      const crash = `faults:
  crashes:
    - { actor: c2, round: 1, state: computePublicLogits, restartAfterMs: never }
`;
      const r = await run(`${population(seed, 10, '{ perRound: 5, overcommit: 1, strategy: round-robin }', '', 4)}${crash}`);
      const c2 = r.recorder.events.filter((e) => e.actor === 'c2');
      expect(c2.filter((e) => e.kind === 'crash').map((e) => e.round)).toEqual([1]);
      // Round-robin over 10, 5 a round: c2's turn comes again in round 3.
      expect([...new Set(c2.filter((e) => e.kind === 'state').map((e) => e.round))]).toEqual([0, 1, 2, 3]);
      expect(c2.filter((e) => e.kind === 'state' && e.round === 3).pop()?.state).toBe('released');
      const server = r.recorder.metrics.filter((m) => m.actor === 'server' && m.round > 0);
      expect(server.map((m) => m.dropouts)).toEqual([1, 0, 0, 0]);
      expect(r.finalStates).toEqual({ server: 'done' });
    });
  }
});

describe.skipIf(!datasetsAvailable())('a population on a real task (shared datasets)', () => {
  it('draws Dirichlet shards of RTE over 5,000 clients, says they overlap, keeps every invariant', async () => {
    const text = population(6, 5000, '{ perRound: 20, overcommit: 1.3 }').replace(
      'task: { name: builtin, privateSamplesPerClient: 4, publicSamples: 4, testSamples: 8 }',
      'task: { name: rte, privateSamplesPerClient: 8, publicSamples: 8, testSamples: 16 }',
    );
    const r = await run(text);
    const described = of(r.recorder.events, 'population')[0]!;
    expect(described.poolSize).toBeGreaterThan(1000);
    expect(described.shardsOverlap).toBe(true);
    expect(r.recorder.metrics.filter((m) => m.actor === 'server' && m.round > 0).map((m) => m.uploads)).toEqual([20, 20, 20]);
  });
});
