/**
 * The live view of a population: its clients by template (the server's selections name each
 * chosen client's template) and each template's part in the current round, from the events of a
 * real run; events recorded before selections named templates still show, without the breakdown.
 */
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { LiveState } from '../../apps/live/live-state.js';
import type { LiveSnapshot } from '../../apps/live/snapshot.js';
import { PopulationModel } from '../../core/population/population.js';
import type { RunEvent } from '../../core/records.js';
import { parseScenario } from '../../core/scenario/load.js';
import { population } from '../population/scenario.js';

const availability = '  availability: { diurnal: { periodMs: 20000, onlineFraction: 0.4, sessionMs: 1500 } }';
const scenario = parseScenario(population(4, 300, '{ perRound: 8, overcommit: 1.5 }', availability, 4));
const model = PopulationModel.of(scenario);
const templateOf = (id: string) => model.templateOf(model.indexOf(id)!);

async function populationRun(): Promise<RunEvent[]> {
  const result = await runFederation(scenario, { learning: protocolOnlyLearningStack() });
  expect(result.violations).toEqual([]);
  return result.recorder.events;
}

/** Every actor listed (a detail limit above the clients), so that the rows can be grouped by hand. */
const liveState = () => new LiveState({ detailLimit: 100_000 });

/** The rows' clients per template and state, grouped here from each client's template as the population draws it. */
function expectedByTemplate(snap: LiveSnapshot): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const row of snap.actors.rows) {
    if (row.role !== 'client') continue;
    const counts = out.get(templateOf(row.id)) ?? {};
    const state = row.down ? 'offline' : row.state;
    counts[state] = (counts[state] ?? 0) + 1;
    out.set(templateOf(row.id), counts);
  }
  return out;
}

describe('live view of a population, by template', () => {
  it('counts each template’s clients per state, adding up to the clients in each state, all along the run', async () => {
    const events = await populationRun();
    const live = liveState();
    let checked = 0;
    for (const [n, e] of events.entries()) {
      live.push(e);
      if (n % 150 !== 0 && n !== events.length - 1) continue;
      const snap = live.snapshot();
      if (!events.slice(0, n + 1).some((x) => x.kind === 'selection')) {
        expect(snap.templates).toBeNull();
        continue;
      }
      const t = snap.templates!;
      expect(t.rows.map((r) => [r.template, r.label, r.kind])).toEqual([
        [0, 'template 0', 'no model, gpt2'],
        [1, 'template 1', 'no model, llama2'],
      ]);
      const expected = expectedByTemplate(snap);
      for (const r of t.rows) {
        expect(r.counts).toEqual(expected.get(r.template) ?? {});
        expect(r.clients).toBe(Object.values(r.counts).reduce((a, b) => a + b, 0));
      }
      for (const [state, count] of Object.entries(snap.counts.client)) expect(t.rows.reduce((a, r) => a + (r.counts[state] ?? 0), 0)).toBe(count);
      expect(t.rows.reduce((a, r) => a + r.clients, 0)).toBe(snap.actors.clients);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
    const final = live.snapshot();
    // Both templates drawn, and more than one state met by the end (clients done, released, offline).
    expect(final.templates!.rows.every((r) => r.clients > 0)).toBe(true);
    expect(Object.keys(final.counts.client).length).toBeGreaterThan(1);
  });

  it("gives each template's part in the current round: announced, uploads, stragglers and dropouts", async () => {
    const events = await populationRun();
    const selections = events.filter((e) => e.kind === 'selection');
    // At each round's end (the server in roundEnd), the figures are that round's.
    const live = liveState();
    let rounds = 0;
    const seen = { stragglers: 0, dropouts: 0 };
    for (const e of events) {
      live.push(e);
      if (!(e.actor === 'server' && e.kind === 'state' && e.state === 'roundEnd')) continue;
      const t = live.snapshot().templates!;
      const round = e.round;
      expect(t.round).toBe(round);
      const chosen = selections.find((s) => s.round === round)!.clients as string[];
      const upto = events.slice(0, events.indexOf(e) + 1);
      const uploaded = new Set(
        upto.filter((x) => x.actor === 'server' && x.kind === 'accepted' && x.message === 'slm-logits' && x.round === round).map((x) => String(x.sender)),
      );
      const stragglers = (upto.find((x) => x.kind === 'stragglers' && x.round === round)?.clients ?? []) as string[];
      const dropouts = upto.filter((x) => x.kind === 'dropout' && x.round === round).map((x) => x.actor);
      const per = (ids: Iterable<string>, template: number) => [...ids].filter((id) => templateOf(id) === template).length;
      for (const template of [0, 1]) {
        expect(t.rows[template]).toMatchObject({
          announced: per(chosen, template),
          uploads: per(uploaded, template),
          stragglers: per(stragglers, template),
          dropouts: per(dropouts, template),
        });
      }
      expect(t.rows.reduce((a, r) => a + r.announced, 0)).toBe(12);
      expect(t.rows.reduce((a, r) => a + r.uploads, 0)).toBe(8);
      expect(live.snapshot().rounds.find((r) => r.round === round)).toMatchObject({ announced: 12, uploads: 8 });
      // The uploads bar: of the clients announced to, not of every client seen.
      expect(live.snapshot().collection).toMatchObject({ round, received: 8, expected: 12 });
      seen.stragglers += stragglers.length;
      seen.dropouts += dropouts.length;
      rounds++;
    }
    expect(rounds).toBe(4);
    // Not vacuous: the run had both.
    expect(seen.stragglers).toBeGreaterThan(0);
    expect(seen.dropouts).toBeGreaterThan(0);
  });

  it('shows a run recorded before selections named templates as before: states counted, no breakdown', async () => {
    const events = await populationRun();
    const older = events.map((e) => {
      if (e.kind !== 'selection' && e.kind !== 'population') return e;
      const { templates: _templates, ...rest } = e;
      return rest as RunEvent;
    });
    const now = liveState();
    const before = liveState();
    for (const e of events) now.push(e);
    for (const e of older) before.push(e);
    const a = now.snapshot();
    const b = before.snapshot();
    expect(a.templates).not.toBeNull();
    expect(b.templates).toBeNull();
    expect(b.counts).toEqual(a.counts);
    expect(b.actors.rows).toEqual(a.actors.rows);
    expect(b.rounds).toEqual(a.rounds);
  });

  it('has no breakdown for listed clients', () => {
    const live = new LiveState();
    live.push({ t: 0, actor: 'c1', round: 0, kind: 'state', state: 'waitForRound' });
    live.push({ t: 1, actor: 'server', round: 1, kind: 'state', state: 'awaitSLMLogits' });
    expect(live.snapshot().templates).toBeNull();
    expect(live.snapshot().rounds.find((r) => r.round === 1)?.announced).toBeNull();
  });
});
