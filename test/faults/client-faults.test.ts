/**
 * Client behaviour faults: dropout (scripted and with probability p), stragglers (drawn
 * profiles and traces), and the crash and restart of a client at a named state.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario/load.js';
import { runFederation } from '../../actors/federation.js';
import { Random } from '../../core/random.js';
import { bigramLearning, bigramScenario, eventsOf, statesOf } from './helpers.js';

describe('client faults', () => {
  it('scripted dropout: c3 leaves in round 2 during uploadLogits (its upload is lost) and rejoins when round 3 opens', async () => {
    const scenario = bigramScenario({ extra: 'faults: { dropout: { script: [ { client: c3, round: 2, state: uploadLogits, rejoinRound: 3 } ] } }' });
    const { recorder, violations, failures, finalStates } = await runFederation(scenario, { learning: bigramLearning() });
    expect(violations).toEqual([]);
    expect(failures).toEqual({});
    const events = recorder.events;
    expect(eventsOf(events, 'dropout')).toEqual([expect.objectContaining({ actor: 'c3', round: 2, state: 'uploadLogits', rejoinRound: 3 })]);
    // The upload it was sending is cut off with it.
    expect(eventsOf(events, 'drop', 'server')).toEqual([expect.objectContaining({ id: 'c3:2', cause: 'sender-offline' })]);
    const serverStart3 = events.find((e) => e.kind === 'state' && e.actor === 'server' && e.round === 3 && e.state === 'announceRound')!;
    const rejoin = eventsOf(events, 'rejoin')[0]!;
    expect(rejoin).toMatchObject({ actor: 'c3', round: 2, state: 'uploadLogits', t: serverStart3.t });
    // It resumes where it left: uploading round 2 again (now late), then it catches up.
    const afterRejoin = events.slice(events.indexOf(rejoin));
    expect(statesOf(afterRejoin, 'c3', 2)).toEqual(['uploadLogits', 'awaitLLMLogits', 'alignLLMTokens', 'distillFromLLM', 'roundEnd']);
    expect(events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.sender === 'c3' && e.message === 'slm-logits').map((e) => e.round)).toEqual([
      1, 3,
    ]);
    expect(finalStates.c3).toBe('done');
  });

  it('dropout with probability p: the seeded draw per client and round decides, and a client that never comes back ends offline', async () => {
    const scenario = bigramScenario({ rounds: 3, extra: 'faults: { dropout: { p: 0.4, rejoinAfterRounds: 1 } }' });
    const { recorder, violations, finalStates } = await runFederation(scenario, { learning: bigramLearning() });
    expect(violations).toEqual([]);
    const dropped = eventsOf(recorder.events, 'dropout').map((e) => `${e.actor}/${e.round}`);
    // Exactly the draws of faults/dropout/<client>/<round> below p, for rounds a client reached training in.
    const reached = new Set(recorder.events.filter((e) => e.kind === 'state' && e.state === 'trainPrivate').map((e) => `${e.actor}/${e.round}`));
    const expected = [...reached].filter((key) => Random.stream(scenario.seed, `faults/dropout/${key}`).next() < 0.4);
    expect(dropped.sort()).toEqual(expected.sort());
    expect(dropped.length).toBeGreaterThan(0);
    for (const key of dropped.filter((k) => k.endsWith('/3'))) expect(finalStates[key.split('/')[0]!]).toMatch(/^offline \(dropout in round 3/);
  });

  it('stragglers: lognormal compute factors stretch work; the slowest miss the deadline; a trace row pins one client', async () => {
    const extra = `faults:
  stragglers:
    compute: { dist: lognormal, mu: 0.5, sigma: 1.5 }
    bandwidth: { dist: uniform, min: 0.1, max: 1 }
    trace: [ { client: c4, computeFactor: 200 } ]`;
    const scenario = bigramScenario({ rounds: 2, extra });
    const { recorder, violations } = await runFederation(scenario, { learning: bigramLearning() });
    expect(violations).toEqual([]);
    const drawn = eventsOf(recorder.events, 'straggler');
    expect(drawn.map((e) => e.actor)).toEqual(['c1', 'c2', 'c3', 'c4']);
    const trainMs = (client: string) => {
      const enter = recorder.events.find((e) => e.kind === 'state' && e.actor === client && e.round === 1 && e.state === 'trainPrivate')!;
      const leave = recorder.events.find((e) => e.kind === 'state' && e.actor === client && e.round === 1 && e.state === 'computePublicLogits')!;
      return leave.t - enter.t;
    };
    // privateSamplesPerClient 12 x msPerTrainSample x the drawn factor (x 200 for c4 from the trace).
    for (const [i, c] of ['c1', 'c2', 'c3'].entries()) expect(trainMs(c)).toBeCloseTo(12 * (20 + 10 * i) * (drawn[i]!.computeFactor as number), 6);
    expect(trainMs('c4')).toBeCloseTo(12 * 50 * (drawn[3]!.computeFactor as number) * 200, 6);
    // c4 needs far longer than the 20 s deadline: the server proceeds without it.
    expect(eventsOf(recorder.events, 'quorum')[0]).toMatchObject({ round: 1, outcome: 'proceed' });
    expect(recorder.events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.round === 1).map((e) => e.sender)).not.toContain('c4');
    // A message's transfer time follows its encoded size and the drawn bandwidth.
    const send = recorder.events.find((e) => e.kind === 'send' && e.actor === 'c1' && e.type === 'slm-logits')!;
    const deliver = recorder.events.find((e) => e.kind === 'deliver' && e.id === send.id)!;
    const link = drawn[0]!;
    expect(deliver.t - send.t).toBeCloseTo(((send.bytes as number) * 8) / ((link.bandwidthMbps as number) * 1000) + (link.latencyMs as number), 6);
  });

  it('stragglers from a trace file: rows apply per client (and per round), and the run keeps the trace inline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-trace-'));
    const trace = join(dir, 'trace.csv');
    writeFileSync(trace, 'client,round,computeFactor,bandwidthMbps,latencyMs\nc1,,10,,\nc2,2,,1,250\n');
    const scenario = bigramScenario({ rounds: 2, extra: `faults: { stragglers: { traceFile: ${JSON.stringify(trace)} } }` });
    const { recorder, violations } = await runFederation(scenario, { learning: bigramLearning(), outDir: dir });
    expect(violations).toEqual([]);
    const trainMs = (client: string, round: number) => {
      const at = (state: string) => recorder.events.find((e) => e.kind === 'state' && e.actor === client && e.round === round && e.state === state)!.t;
      return at('computePublicLogits') - at('trainPrivate');
    };
    expect(trainMs('c1', 1)).toBeCloseTo(12 * 20 * 10, 6);
    expect(trainMs('c1', 2)).toBeCloseTo(12 * 20 * 10, 6);
    expect(trainMs('c2', 1)).toBeCloseTo(12 * 30, 6);
    // The written scenario replays without the file.
    const written = parseScenario(readFileSync(join(dir, 'scenario.yaml'), 'utf8'));
    expect(written.faults.stragglers?.traceFile).toBeUndefined();
    expect(written.faults.stragglers?.trace).toEqual([
      { client: 'c1', computeFactor: 10 },
      { client: 'c2', round: 2, bandwidthMbps: 1, latencyMs: 250 },
    ]);
  });

  it('crash and restart of a client at a named state: it resumes in that state with its adapter and finishes', async () => {
    const scenario = bigramScenario({ extra: 'faults: { crashes: [ { actor: c2, round: 2, state: distillFromLLM, restartAfterMs: 700 } ] }' });
    const { recorder, violations, failures } = await runFederation(scenario, { learning: bigramLearning() });
    expect(violations).toEqual([]);
    expect(failures).toEqual({});
    const crash = eventsOf(recorder.events, 'crash')[0]!;
    const restart = eventsOf(recorder.events, 'restart')[0]!;
    expect(crash).toMatchObject({ actor: 'c2', round: 2, state: 'distillFromLLM' });
    expect(restart).toMatchObject({ actor: 'c2', round: 2, state: 'distillFromLLM', t: crash.t + 700 });
    // The interrupted distillation runs again, once, after the restart; the round then ends normally.
    expect(statesOf(recorder.events, 'c2', 2).slice(-3)).toEqual(['distillFromLLM', 'distillFromLLM', 'roundEnd']);
    expect(eventsOf(recorder.events, 'selected', 'c2').filter((e) => e.round === 2)).toHaveLength(1);
    // Message ids stay unique across the crash.
    const ids = recorder.events.filter((e) => e.kind === 'send' && e.actor === 'c2').map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
