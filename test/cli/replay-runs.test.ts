/**
 * `replay` of runs as they are left: a resumed run replays (from the checkpoints of the round it
 * went on after, or from the start when they are gone), a run stopped or cut short by a kill is
 * compared up to where it stops, and a wall-clock run is refused with the reason.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { resumePoint } from '../../actors/round-checkpoints.js';
import { formatCutShort, replayRunDir, runFinished } from '../../cli/commands/replay.js';
import { loadScenario } from '../../core/scenario/load.js';
import { bigramLearning, bigramScenario } from '../faults/helpers.js';

const ACTORS = ['server', 'c1', 'c2', 'c3', 'c4'];
const tmp = () => mkdtempSync(join(tmpdir(), 'fedmkt-replay-runs-'));

/** A 2-round run, resumed to go on to round 3: its events hold the resume. */
async function resumedRun(): Promise<string> {
  const dir = tmp();
  await runFederation(bigramScenario({ rounds: 2 }), { outDir: dir, learning: bigramLearning(), checkpoints: true });
  const longer = loadScenario(join(dir, 'scenario.yaml'), { overrides: [{ path: 'rounds', value: 3 }] });
  const resumed = await runFederation(longer, { outDir: dir, learning: bigramLearning(), checkpoints: true, resume: resumePoint(dir, ACTORS) });
  expect(resumed.recorder.events.filter((e) => e.kind === 'resume')).toHaveLength(ACTORS.length);
  return dir;
}

describe('replay of a resumed run', () => {
  it('replays it from the checkpoints of the round it went on after, and finds a changed line after the resume', async () => {
    const dir = await resumedRun();
    const same = await replayRunDir(dir, bigramLearning());
    expect([same.divergence, same.from, same.cutShort]).toEqual([null, { kind: 'checkpoint', afterRound: 2 }, []]);

    const lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n');
    const at = lines.length - 5;
    const original = lines[at - 1]!;
    lines[at - 1] = original.replace(/"round":3/, '"round":7');
    expect(lines[at - 1]).not.toBe(original);
    writeFileSync(join(dir, 'events.jsonl'), lines.join('\n'));
    const changed = await replayRunDir(dir, bigramLearning());
    expect(changed.divergence).toEqual({ file: 'events.jsonl', line: at, expected: lines[at - 1], actual: original });
  });

  it('replays it from the start, comparing what was learned, when its checkpoints are gone', async () => {
    const dir = await resumedRun();
    for (const actor of ACTORS) rmSync(join(dir, 'checkpoints', actor, 'round-2'), { recursive: true });
    const outcome = await replayRunDir(dir, bigramLearning());
    expect([outcome.divergence, outcome.from, outcome.learnedOnly]).toEqual([null, { kind: 'start' }, true]);
  });
});

describe('replay of a run that was stopped', () => {
  it('compares an events.jsonl cut short by a kill up to its last complete line: cut short, not a divergence', async () => {
    const dir = tmp();
    await runFederation(bigramScenario(), { outDir: dir, learning: bigramLearning() });
    const text = readFileSync(join(dir, 'events.jsonl'), 'utf8');
    const kept = text.split('\n').slice(0, 40);
    writeFileSync(join(dir, 'events.jsonl'), `${kept.join('\n')}\n${text.split('\n')[40]!.slice(0, 25)}`);
    const outcome = await replayRunDir(dir, bigramLearning());
    expect(outcome.divergence).toBeNull();
    expect(outcome.cutShort).toContainEqual({ file: 'events.jsonl', lastLine: 40, partialLine: true });
    expect(formatCutShort(outcome.cutShort[0]!)).toBe(
      'events.jsonl is cut short at line 41 (the run was interrupted while writing it); its last complete line is 40: identical up to there',
    );
  });

  it('a run stopped between two lines is compared up to there; a run whose actors all came to an end is not stopped', async () => {
    const dir = tmp();
    await runFederation(bigramScenario(), { outDir: dir, learning: bigramLearning() });
    const lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    writeFileSync(join(dir, 'events.jsonl'), `${lines.slice(0, 60).join('\n')}\n`);
    const stopped = await replayRunDir(dir, bigramLearning());
    expect([stopped.divergence, stopped.cutShort[0]]).toEqual([null, { file: 'events.jsonl', lastLine: 60, partialLine: false }]);
    // A trace where every actor is done (or offline for good) is a finished run: a replay that goes on past it differs.
    expect(runFinished(lines)).toBe(true);
    expect(runFinished(lines.slice(0, -1))).toBe(false);
    const c4Gone = JSON.stringify({ t: 1, actor: 'c4', round: 3, kind: 'dropout', state: 'trainPrivate' });
    expect(runFinished([...lines.filter((l) => !l.includes('"actor":"c4"')), ...lines.filter((l) => l.includes('"actor":"c4"')).slice(0, 3), c4Gone])).toBe(
      true,
    );
  });

  it('refuses a wall-clock run over NATS, saying why', async () => {
    const dir = tmp();
    await runFederation(bigramScenario(), { outDir: dir, learning: bigramLearning() });
    appendFileSync(join(dir, 'clock.json'), JSON.stringify({ kind: 'wall', origin: 1 }));
    await expect(replayRunDir(dir, bigramLearning())).rejects.toThrow(/ran over NATS on the wall clock: its times cannot be replayed/);
  });
});
