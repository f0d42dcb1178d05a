/**
 * Crash and restart of the server mid-collection: it resumes in awaitSLMLogits with every
 * upload it had accepted (none lost, none counted twice), keeps its deadline, and the run
 * ends with the same accepted uploads as without the crash.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import type { RunEvent } from '../../core/records.js';
import { bigramLearning, bigramScenario, eventsOf } from './helpers.js';

const uploads = (events: readonly RunEvent[]) =>
  events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.message === 'slm-logits').map((e) => `${e.round}:${e.sender}:${e.messageId}`);
const teachers = (events: readonly RunEvent[]) =>
  eventsOf(events, 'selected', 'server').map((e) => Object.keys(e).filter((k) => !['t', 'actor', 'round', 'kind', 'self'].includes(k)));

/** Crash 1 between the 2nd and 3rd accepted upload of round 1, restart before the 3rd arrives. */
function crashBetweenUploads(events: readonly RunEvent[]): { afterMs: number; restartAfterMs: number } {
  const open = events.find((e) => e.kind === 'state' && e.actor === 'server' && e.round === 1 && e.state === 'awaitSLMLogits')!;
  const [, second, third] = events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.round === 1);
  return { afterMs: Math.round((second!.t + third!.t) / 2 - open.t), restartAfterMs: Math.floor((third!.t - second!.t) / 4) };
}

describe('server crash and restart', () => {
  it('mid-collection: the restarted server keeps the uploads it had accepted and ends with the same ones as without the crash', async () => {
    const baseline = await runFederation(bigramScenario(), { learning: bigramLearning() });
    const { afterMs, restartAfterMs } = crashBetweenUploads(baseline.recorder.events);
    for (const persist of ['memory', 'disk'] as const) {
      const outDir = persist === 'disk' ? mkdtempSync(join(tmpdir(), 'fedmkt-crash-')) : undefined;
      const scenario = bigramScenario({
        extra: `faults: { persist: ${persist}, crashes: [ { actor: server, round: 1, state: awaitSLMLogits, afterMs: ${afterMs}, restartAfterMs: ${restartAfterMs} } ] }`,
      });
      const crashed = await runFederation(scenario, { learning: bigramLearning(), ...(outDir ? { outDir } : {}) });
      const events = crashed.recorder.events;
      expect(crashed.violations).toEqual([]);
      expect(crashed.failures).toEqual({});
      expect(Object.values(crashed.finalStates)).toEqual(['done', 'done', 'done', 'done', 'done']);
      const crash = eventsOf(events, 'crash')[0]!;
      expect(crash).toMatchObject({ actor: 'server', round: 1, state: 'awaitSLMLogits' });
      expect(eventsOf(events, 'restart')[0]).toMatchObject({ actor: 'server', round: 1, state: 'awaitSLMLogits', t: crash.t + restartAfterMs });
      // Two uploads were in before the crash, the others after the restart, none lost or doubled.
      const before = events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.t < crash.t);
      expect(before.map((e) => e.sender)).toEqual(['c1', 'c2']);
      expect(uploads(events)).toEqual(uploads(baseline.recorder.events));
      expect(teachers(events)).toEqual(teachers(baseline.recorder.events));
      if (outDir) {
        // One file per accepted upload (named by client, then by the save that wrote it), nothing left over.
        expect(
          readdirSync(join(outDir, 'state', 'server', 'uploads'))
            .map((f) => f.slice(0, f.indexOf('.')))
            .sort(),
        ).toEqual(['c1', 'c2', 'c3', 'c4']);
        expect(existsSync(join(outDir, 'state', 'server', 'snapshot.msgpack'))).toBe(true);
      }
    }
  });

  it('keeps its deadline across the restart; uploads sent while it is down are lost, not counted', async () => {
    // c4 never makes the 20 s deadline; the server is down from 0.5 s to 1.5 s of round 1.
    const profiles = ['{ msPerTrainSample: 20 }', '{ msPerTrainSample: 50 }', '{ msPerTrainSample: 100 }', '{ msPerTrainSample: 5000 }'];
    const scenario = bigramScenario({
      profiles,
      extra: 'faults: { crashes: [ { actor: server, round: 1, state: awaitSLMLogits, afterMs: 500, restartAfterMs: 1000 } ] }',
    });
    const { recorder, violations } = await runFederation(scenario, { learning: bigramLearning() });
    expect(violations).toEqual([]);
    const events = recorder.events;
    const open = events.find((e) => e.kind === 'state' && e.actor === 'server' && e.round === 1 && e.state === 'awaitSLMLogits')!;
    // c2's upload (about 0.7 s) arrives while the server is down.
    expect(eventsOf(events, 'drop', 'server')).toEqual([expect.objectContaining({ id: 'c2:1', cause: 'offline' })]);
    expect(eventsOf(events, 'quorum')[0]).toMatchObject({ round: 1, accepted: 2, needed: 2, outcome: 'proceed', t: open.t + 20000 });
    expect(teachers(events)[0]).toEqual(['c1', 'c3']);
  });
});
