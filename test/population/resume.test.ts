/**
 * Resuming a population run from its round checkpoints: killed after round 2, it goes on and
 * records what the uninterrupted run records from there (every event but the `resume` one,
 * line for line; the metrics; the final checkpoints), stragglers and clients still distilling
 * at the cut included.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bigramLearningStack } from '../../actors/bigram-learning.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { checkedCommonRound, resumePoint, type ResumePoint } from '../../actors/round-checkpoints.js';
import { loadScenario, parseScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { population } from './scenario.js';
import { fedmkt } from '../cli/helpers.js';

const ROUNDS = 5;
const CUT = 2;

const diurnal = '  availability: { diurnal: { periodMs: 20000, onlineFraction: 0.4, sessionMs: 1500 } }';

/** A protocol-only population: 40 clients, 4 uploads awaited of 6 announced, late uploads counted toward the next round. */
function protocolOnly(seed: number, strategy: string, extra = diurnal, count = 40, perRound = 4): string {
  return population(seed, count, `{ perRound: ${perRound}, overcommit: 1.5, strategy: ${strategy} }`, extra, ROUNDS, 1);
}

/** Bigram clients that learn (two tokenizers), the server a bigram too. */
function bigram(seed: number, rounds = ROUNDS): string {
  return `name: popl
seed: ${seed}
rounds: ${rounds}
task: { name: builtin, privateSamplesPerClient: 8, publicSamples: 16, testSamples: 24 }
protocol:
  topK: 8
  awaitSLMLogits: { deadlineMs: 600000, quorum: 0.5, lateMessages: { acceptWithinRounds: 1 } }
  awaitLLMLogits: { deadlineMs: 1200000 }
server: { model: bigram, tokenizer: gpt2, profile: { msPerTrainSample: 5, bandwidthMbps: 1000, latencyMs: 5 } }
population:
  count: 200
  clients:
    - { weight: 0.6, model: bigram, tokenizer: gpt2, profile: { msPerTrainSample: { lognormal: { median: 40, sigma: 0.8 } } } }
    - { weight: 0.4, model: bigram, tokenizer: llama2, profile: { msPerTrainSample: { lognormal: { median: 60, sigma: 0.8 } } } }
  data: { split: dirichlet, alpha: 0.5 }
  availability: { diurnal: { periodMs: 200000, onlineFraction: 0.5, sessionMs: 20000 } }
  evaluateClients: 3
selection: { perRound: 6, overcommit: 1.5 }
`;
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
const events = (dir: string) => lines(join(dir, 'events.jsonl')).filter((l) => !l.includes('"kind":"resume"'));

/** Equal records from the cut on: events line for line (the `resume` event aside), metric rows, and the last round's checkpoints. */
function expectSameRun(resumed: string, whole: string): void {
  expect(events(resumed)).toEqual(lines(join(whole, 'events.jsonl')));
  expect(lines(join(resumed, 'metrics.jsonl')).sort()).toEqual(lines(join(whole, 'metrics.jsonl')).sort());
  const last = `round-${ROUNDS}`;
  expect(readFileSync(join(resumed, 'checkpoints', 'population', `${last}.msgpack`))).toEqual(
    readFileSync(join(whole, 'checkpoints', 'population', `${last}.msgpack`)),
  );
  const server = (dir: string) => join(dir, 'checkpoints', 'server', last);
  for (const file of readdirSync(server(whole)).filter((f) => f !== 'actor.json'))
    expect(readFileSync(join(server(resumed), file))).toEqual(readFileSync(join(server(whole), file)));
  // The trace's line counts are one more: the `resume` event.
  const actor = (dir: string) => {
    const saved = JSON.parse(readFileSync(join(server(dir), 'actor.json'), 'utf8')) as { recorded: number; local: { recorded: number } };
    return {
      ...saved,
      recorded: saved.recorded - (dir === resumed ? 1 : 0),
      local: { ...saved.local, recorded: saved.local.recorded - (dir === resumed ? 1 : 0) },
    };
  };
  expect(actor(resumed)).toEqual(actor(whole));
}

/** The folder of a run killed once round `cut` was checkpointed, some way into the next round: later checkpoints gone, records cut mid-line. */
function killedCopy(whole: string, dir: string, cut: number): void {
  cpSync(whole, dir, { recursive: true });
  for (let round = cut + 1; round <= ROUNDS; round++) {
    rmSync(join(dir, 'checkpoints', 'server', `round-${round}`), { recursive: true });
    rmSync(join(dir, 'checkpoints', 'population', `round-${round}.msgpack`));
  }
  const { recorded } = JSON.parse(readFileSync(join(dir, 'checkpoints', 'server', `round-${cut}`, 'actor.json'), 'utf8')) as { recorded: number };
  const kept = lines(join(dir, 'events.jsonl')).slice(0, recorded + 37);
  writeFileSync(join(dir, 'events.jsonl'), `${kept.join('\n')}\n${kept.at(-1)!.slice(0, 20)}`);
}

async function resumeIn(dir: string, learning: LearningStack, point: ResumePoint = resumePoint(dir, ['server'], true)) {
  const result = await runFederation(loadScenario(join(dir, 'scenario.yaml')), { outDir: dir, learning, checkpoints: true, resume: point });
  expect(result.violations.map((v) => v.message)).toEqual([]);
  expect(result.failures).toEqual({});
  expect(result.finalStates).toEqual({ server: 'done' });
  return result;
}

/** The uninterrupted run of `scenario` with checkpoints, in a fresh folder (`root/whole`). */
async function wholeRun(name: string, scenario: Scenario, learning: LearningStack) {
  const root = mkdtempSync(join(tmpdir(), `fedmkt-pop-${name}-`));
  const whole = join(root, 'whole');
  const result = await runFederation(scenario, { outDir: whole, learning, checkpoints: true });
  return { root, whole, result };
}

/** The uninterrupted run with checkpoints, then a copy killed after round CUT and resumed: the same records. */
async function killAndResume(text: string, learning: LearningStack): Promise<{ point: ResumePoint; whole: string }> {
  const { root, whole, result: reference } = await wholeRun('resume', parseScenario(text), learning);
  expect(reference.violations).toEqual([]);
  const killed = join(root, 'killed');
  killedCopy(whole, killed, CUT);
  const point = resumePoint(killed, ['server'], true);
  expect(point.afterRound).toBe(CUT);
  await resumeIn(killed, learning, point);
  expectSameRun(killed, whole);
  return { point, whole };
}

describe('a population run resumed after round 2 records what the uninterrupted run records', () => {
  for (const seed of [1, 2, 3]) {
    it(`diurnal availability, over-commit, late uploads accepted for a round (random selection, seed ${seed})`, async () => {
      const { point, whole } = await killAndResume(protocolOnly(seed, 'random'), protocolOnlyLearningStack());
      // Clients were still busy at the cut (the round's, distilling; stragglers): their rounds were replayed.
      expect(point.population!.cut.live.length).toBeGreaterThan(0);
      const after = lines(join(whole, 'events.jsonl')).slice(point.actors.server!.recorded);
      expect(after.some((l) => l.includes('"kind":"dropout"') && l.includes('"cause":"availability"'))).toBe(true);
    });

    it(`round-robin selection (seed ${seed})`, async () => {
      const { point } = await killAndResume(protocolOnly(seed, 'round-robin'), protocolOnlyLearningStack());
      expect(point.population!.cut.cursor).toBeGreaterThan(0);
    });

    it(`bigram clients that learn (seed ${seed})`, async () => {
      const { point } = await killAndResume(bigram(seed), bigramLearningStack());
      expect(point.population!.cut.live.length).toBeGreaterThan(0);
      expect(point.population!.adapters.size).toBeGreaterThan(0);
    });
  }

  for (const seed of [1, 2, 3]) {
    it(`under every fault at once: scenarios/population-chaos.yaml (seed ${seed})`, async () => {
      const text = readFileSync('scenarios/population-chaos.yaml', 'utf8')
        .replace(/^seed: \d+$/m, `seed: ${seed}`)
        .replace(/^rounds: \d+$/m, `rounds: ${ROUNDS}`);
      const { point, whole } = await killAndResume(text, protocolOnlyLearningStack());
      const after = lines(join(whole, 'events.jsonl')).slice(point.actors.server!.recorded);
      // Faults go on after the cut: a partition spanning it, messages delayed, duplicated, dropped.
      for (const kind of ['delay', 'duplicate', 'drop']) expect(after.some((l) => l.includes(`"kind":"${kind}"`))).toBe(true);
    });
  }

  it('a late upload of a straggler busy at the cut counts in the round after it, as it did uninterrupted', async () => {
    const late: string[] = [];
    for (const seed of [1, 2, 3]) {
      const { point, whole } = await killAndResume(protocolOnly(seed, 'availability-aware', ''), protocolOnlyLearningStack());
      const busy = new Set(point.population!.cut.live.map((c) => c.id));
      for (const l of lines(join(whole, 'events.jsonl')).slice(point.actors.server!.recorded)) {
        const e = JSON.parse(l) as { kind: string; actor: string; sender?: string; msgRound?: number };
        if (e.kind === 'accepted' && e.actor === 'server' && typeof e.msgRound === 'number' && busy.has(e.sender!)) late.push(`${seed}:${e.sender}`);
      }
    }
    expect(late.length).toBeGreaterThan(0);
  });

  it('a run of 2 rounds goes on to 5 as the 5-round run does', async () => {
    const learning = protocolOnlyLearningStack();
    const { root, whole } = await wholeRun('extend', parseScenario(protocolOnly(7, 'random')), learning);
    const short = join(root, 'short');
    const scenario: Scenario = { ...parseScenario(protocolOnly(7, 'random')), rounds: CUT };
    await runFederation(scenario, { outDir: short, learning, checkpoints: true });
    const point = resumePoint(short, ['server'], true);
    const result = await runFederation(loadScenario(join(short, 'scenario.yaml'), { overrides: [{ path: 'rounds', value: ROUNDS }] }), {
      outDir: short,
      learning,
      checkpoints: true,
      resume: point,
    });
    expect(result.violations).toEqual([]);
    expectSameRun(short, whole);
  });

  it('without replaying the clients busy at the cut, the resumed run is another run (what the comparison catches)', async () => {
    const learning = protocolOnlyLearningStack();
    const { root, whole } = await wholeRun('noreplay', parseScenario(protocolOnly(1, 'random')), learning);
    const killed = join(root, 'killed');
    killedCopy(whole, killed, CUT);
    const point = resumePoint(killed, ['server'], true);
    const population = point.population!;
    await runFederation(loadScenario(join(killed, 'scenario.yaml')), {
      outDir: killed,
      learning,
      resume: { ...point, population: { ...population, cut: { ...population.cut, live: [], deliveries: [] } } },
    });
    expect(events(killed)).not.toEqual(lines(join(whole, 'events.jsonl')));
  });
});

describe('population checkpoints', () => {
  it('grow with the clients that took part, not with the population (1,000 and 100,000 clients, 20 per round)', async () => {
    const size = async (count: number) => {
      const dir = mkdtempSync(join(tmpdir(), `fedmkt-pop-size-${count}-`));
      const text = protocolOnly(4, 'random', '', count, 20).replace(`rounds: ${ROUNDS}`, 'rounds: 3');
      await runFederation(parseScenario(text), { outDir: dir, learning: protocolOnlyLearningStack(), checkpoints: true });
      return folderBytes(join(dir, 'checkpoints'));
    };
    const small = await size(1_000);
    const large = await size(100_000);
    expect(small).toBeGreaterThan(0);
    expect(large / small).toBeGreaterThan(0.8);
    expect(large / small).toBeLessThan(1.25);
  });

  it('a missing or unreadable population checkpoint is named; the cut is the latest round both the server and the population hold', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-pop-bad-'));
    await runFederation(parseScenario(protocolOnly(2, 'random').replace(`rounds: ${ROUNDS}`, 'rounds: 3')), {
      outDir: dir,
      learning: protocolOnlyLearningStack(),
      checkpoints: true,
    });
    const file = (round: number) => join(dir, 'checkpoints', 'population', `round-${round}.msgpack`);
    rmSync(file(3));
    expect(resumePoint(dir, ['server'], true).afterRound).toBe(2);
    expect(checkedCommonRound(dir, ['server'], true)).toBe(2);
    const second = readFileSync(file(2));
    writeFileSync(file(2), second.subarray(0, second.length - 9));
    expect(() => resumePoint(dir, ['server'], true)).toThrow(/checkpoint .*population.round-2\.msgpack: not a population checkpoint/);
    writeFileSync(file(2), second);
    rmSync(file(1));
    expect(() => resumePoint(dir, ['server'], true)).toThrow(/population.round-1\.msgpack is missing/);
    rmSync(join(dir, 'checkpoints', 'population'), { recursive: true });
    expect(() => resumePoint(dir, ['server'], true)).toThrow(/server: 1,2,3; population: none/);
  });
});

describe('fedmkt run, killed (SIGKILL) after round 2 of a population, goes on with --resume', () => {
  it('as the uninterrupted run does', { timeout: 180_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedmkt-pop-kill-'));
    const rounds = 10;
    const text = bigram(5, rounds);
    const file = join(root, 'pop.yaml');
    writeFileSync(file, text);
    const whole = join(root, 'whole');
    await runFederation(parseScenario(text), { outDir: whole, learning: bigramLearningStack(), checkpoints: true });
    const killed = join(root, 'killed');
    const cli = (args: string[]) =>
      spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'run', ...args, '--quiet', '--checkpoints', '--workers', '0'], { stdio: 'pipe' });
    const child = cli([file, '--out', killed]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const marker = join(killed, 'checkpoints', 'population', `round-${CUT}.msgpack`);
    while (!existsSync(marker)) {
      if (child.exitCode !== null) throw new Error(`fedmkt run ended (${child.exitCode}) before round ${CUT} was checkpointed`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    const cut = checkedCommonRound(killed, ['server'], true)!;
    expect(cut).toBeGreaterThanOrEqual(CUT);
    expect(cut, 'the kill came after the run had finished: nothing was resumed').toBeLessThan(rounds);
    const resumed = cli(['--resume', killed]);
    let stderr = '';
    resumed.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise((resolve) => resumed.on('exit', resolve)), stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`resuming .* after round ${cut} \\(server@${cut} population@${cut} \\(\\d+ clients? busy then, replayed\\)\\)`));
    expect(events(killed)).toEqual(lines(join(whole, 'events.jsonl')));
    expect(lines(join(killed, 'metrics.jsonl')).sort()).toEqual(lines(join(whole, 'metrics.jsonl')).sort());
  });
});

describe('fedmkt run --resume of a run with no models (model: null: its checkpoints hold none)', () => {
  it('validate finds it resumable, and it goes on as the longer run does', { timeout: 120_000 }, async () => {
    const scenario = loadScenario('scenarios/population-chaos.yaml', {
      overrides: [
        { path: 'seed', value: 4 },
        { path: 'rounds', value: 5 },
      ],
    });
    const { root, whole } = await wholeRun('modelless', scenario, protocolOnlyLearningStack());
    const short = join(root, 'short');
    const first = fedmkt(['run', 'scenarios/population-chaos.yaml', '--seed', '4', '--rounds', '3', '--checkpoints', '--quiet', '--out', short]);
    expect(first.status, first.stderr).toBe(0);
    const checked = fedmkt(['validate', short]);
    expect(checked.status, checked.stderr).toBe(0);
    const resumed = fedmkt(['run', '--resume', short, '--rounds', '5', '--quiet']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(events(short)).toEqual(lines(join(whole, 'events.jsonl')));
  });
});

function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    total += statSync(path).isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}
