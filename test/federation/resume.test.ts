/**
 * Resuming a run from its round checkpoints: a `fedmkt run` process killed (SIGKILL) after its
 * first round goes on with `--resume` and learns exactly what an uninterrupted run learns.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import { recordsBeforeResume, resumePoint } from '../../actors/round-checkpoints.js';
import type { RoundMetrics, RunEvent } from '../../core/records.js';
import { loadScenario } from '../../core/scenario/load.js';
import { tinyScenario } from './tiny-scenario.js';

const ROUNDS = 6;
const ACTORS = ['server', 'c1', 'c2', 'c3'];

function jsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);
}

/** What each actor learned, by round: the figures a resumed run must reproduce exactly. */
function learned(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of jsonl<RoundMetrics>(join(dir, 'metrics.jsonl'))) {
    const key = `${m.round}/${m.actor}`;
    if (key in out) throw new Error(`${dir}: two metrics rows for ${key}`);
    out[key] = { accuracy: m.accuracy, publicCE: m.publicCE, trainLoss: m.trainLoss, distillLoss: m.distillLoss };
  }
  return out;
}

/** Run `fedmkt run` in a child process and SIGKILL it once every actor has checkpointed round 1. */
async function runAndKillAfterRound1(scenarioFile: string, outDir: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', scenarioFile, '--out', outDir, '--quiet', '--workers', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  // Killed once every actor has checkpointed round 1: the server's comes first, the clients' after their distillation.
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const markers = ACTORS.map((actor) => join(outDir, 'checkpoints', actor, 'round-1', 'actor.json'));
  for (;;) {
    if (markers.every((m) => existsSync(m))) break;
    if (child.exitCode !== null) throw new Error(`fedmkt run ended (${child.exitCode}) before round 1 was checkpointed:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  child.kill('SIGKILL');
  expect(await exited).toBeNull();
}

describe('resuming a killed run from its round checkpoints', () => {
  let learning: LearningStack;
  beforeAll(async () => {
    learning = await defaultLearningStack();
  });

  it('goes on after SIGKILL and learns what the uninterrupted run learns, with a sound trace', { timeout: 180_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedmkt-resume-'));
    const scenario = { ...tinyScenario(), rounds: ROUNDS };
    const scenarioFile = join(root, 'tiny.yaml');
    writeFileSync(scenarioFile, stringify(scenario));

    const whole = join(root, 'whole');
    const reference = await runFederation(scenario, { outDir: whole, learning, checkpoints: true });
    expect(reference.failures).toEqual({});

    const killed = join(root, 'killed');
    await runAndKillAfterRound1(scenarioFile, killed);
    const point = resumePoint(killed, ACTORS);
    expect(point.afterRound).toBeGreaterThanOrEqual(1);
    expect(point.afterRound, 'the kill came after the run had finished: nothing was resumed').toBeLessThan(ROUNDS);

    const resumed = await runFederation(loadScenario(join(killed, 'scenario.yaml')), { outDir: killed, learning, checkpoints: true, resume: point });
    expect(resumed.failures).toEqual({});
    expect(resumed.finalStates).toEqual({ server: 'done', c1: 'done', c2: 'done', c3: 'done' });
    expect(resumed.violations).toEqual([]);
    expect(learned(killed)).toEqual(learned(whole));

    const events = jsonl<RunEvent>(join(killed, 'events.jsonl'));
    expect(events.filter((e) => e.kind === 'resume').map((e) => [e.actor, e.round])).toEqual(ACTORS.map((a) => [a, point.afterRound]));
    const ids = events.filter((e) => e.kind === 'send').map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Zero-shot evaluation only once, by the run that started.
    expect(events.filter((e) => e.kind === 'state' && e.state === 'evaluateZeroShot')).toHaveLength(ACTORS.length);
  });

  it('goes on past the last round of a finished run (--rounds N) as if it had been planned', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedmkt-extend-'));
    const short = { ...tinyScenario(), rounds: 2 };
    const extended = join(root, 'extended');
    await runFederation(short, { outDir: extended, learning, checkpoints: true });
    const longer = loadScenario(join(extended, 'scenario.yaml'), { overrides: [{ path: 'rounds', value: 3 }] });
    const result = await runFederation(longer, { outDir: extended, learning, checkpoints: true, resume: resumePoint(extended, ACTORS) });
    expect(result.violations).toEqual([]);

    const planned = join(root, 'planned');
    await runFederation({ ...tinyScenario(), rounds: 3 }, { outDir: planned, learning, checkpoints: true });
    expect(learned(extended)).toEqual(learned(planned));
  });

  it('says what is missing when there is nothing to resume from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-none-'));
    expect(() => resumePoint(dir, ACTORS)).toThrow(
      /cannot resume .*no round was checkpointed by every actor .*server: none; c1: none.*run it again from the start/,
    );
    // A checkpoint folder still being written when the run died is not a checkpoint.
    mkdirSync(join(dir, 'checkpoints', 'server', 'round-1.partial'), { recursive: true });
    expect(() => resumePoint(dir, ACTORS)).toThrow(/server: none/);
    mkdirSync(join(dir, 'checkpoints', 'server', 'round-2'), { recursive: true });
    writeFileSync(join(dir, 'checkpoints', 'server', 'round-2', 'actor.json'), '{"round": 3}');
    expect(() => resumePoint(dir, ACTORS)).toThrow(/round-2.actor\.json: expected \{ round: 2/);
  });

  it('names the rounds of each actor when faults left no round that every actor checkpointed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-disjoint-'));
    const rounds: Record<string, number[]> = { server: [1, 2], c1: [1, 2], c2: [2], c3: [1] };
    for (const [actor, list] of Object.entries(rounds))
      for (const round of list) {
        mkdirSync(join(dir, 'checkpoints', actor, `round-${round}`), { recursive: true });
        writeFileSync(join(dir, 'checkpoints', actor, `round-${round}`, 'actor.json'), JSON.stringify({ round, at: 0, recorded: 0, local: {} }));
      }
    expect(() => resumePoint(dir, ACTORS)).toThrow(/server: 1,2; c1: 1,2; c2: 2; c3: 1\).*dropouts and crashes left no round in common/);
  });

  it('keeps what the killed run recorded up to each checkpoint, and tolerates a last line cut short', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-cut-'));
    const event = (actor: string, round: number, extra: object = {}) => JSON.stringify({ t: 0, actor, round, kind: 'state', ...extra });
    writeFileSync(
      join(dir, 'events.jsonl'),
      [event('server', 1), event('c1', 1), event('c1', 2, { note: 'heard of round 2 before its checkpoint' }), event('server', 2), event('c1', 1)].join('\n') +
        '\n{"t": 3, "act',
    );
    appendFileSync(join(dir, 'metrics.jsonl'), '');
    const point = {
      afterRound: 1,
      at: 0,
      actors: {
        server: { round: 1, at: 0, recorded: 1, dir: '', local: {} },
        c1: { round: 1, at: 0, recorded: 4, dir: '', local: {} },
      },
    };
    const { records } = recordsBeforeResume(dir, point);
    expect(records.events.map((e) => [e.actor, e.round])).toEqual([
      ['server', 1],
      ['c1', 1],
    ]);
  });
});
