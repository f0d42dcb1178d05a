/**
 * `fedmkt replay RUN_DIR`: re-executes a run from RUN_DIR/scenario.yaml (faults and seed
 * included) and compares the new events.jsonl and metrics.jsonl with the saved ones, line by
 * line. Exits 1 at the first difference, printing its line number and both versions.
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation, type LearningStack, type RunResult } from '../../actors/federation.js';
import type { BackendName } from '../../core/models/backend.js';
import { loadScenario } from '../../core/scenario/load.js';
import { nonNegativeInt } from '../options.js';

export interface Divergence {
  file: 'events.jsonl' | 'metrics.jsonl';
  /** 1-based line number. */
  line: number;
  /** The saved line (null: the saved file ended before). */
  expected: string | null;
  /** The replayed line (null: the replay ended before). */
  actual: string | null;
}

export interface ReplayOutcome {
  divergence: Divergence | null;
  events: number;
  metrics: number;
  result: RunResult;
}

function lines(text: string): string[] {
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/** The first line at which two JSONL texts differ. */
export function firstDivergence(file: Divergence['file'], expected: readonly string[], actual: readonly string[]): Divergence | null {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i] ?? null;
    const a = actual[i] ?? null;
    if (e !== a) return { file, line: i + 1, expected: e, actual: a };
  }
  return null;
}

/**
 * Replay the run saved in `dir` (scenario.yaml, events.jsonl and, when present, metrics.jsonl)
 * and report the first difference.
 */
export async function replayRunDir(dir: string, learning: LearningStack): Promise<ReplayOutcome> {
  const scenarioFile = join(dir, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw new Error(`${dir}: no scenario.yaml (not a run folder?)`);
  const scenario = loadScenario(scenarioFile);
  const needsDir = scenario.faults.persist === 'disk';
  const scratch = needsDir ? mkdtempSync(join(tmpdir(), 'fedmkt-replay-')) : undefined;
  try {
    const result = await runFederation(scenario, { learning, ...(scratch ? { outDir: scratch } : {}) });
    const events = result.recorder.events.map((e) => JSON.stringify(e));
    const metrics = result.recorder.metrics.map((m) => JSON.stringify(m));
    let divergence = firstDivergence('events.jsonl', lines(readFileSync(join(dir, 'events.jsonl'), 'utf8')), events);
    if (!divergence && existsSync(join(dir, 'metrics.jsonl')))
      divergence = firstDivergence('metrics.jsonl', lines(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')), metrics);
    return { divergence, events: events.length, metrics: metrics.length, result };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

export function formatDivergence(d: Divergence): string {
  return [`${d.file} line ${d.line} differs:`, `  expected: ${d.expected ?? '(end of file)'}`, `  actual:   ${d.actual ?? '(end of replay)'}`].join('\n');
}


export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('re-execute a run from RUN_DIR/scenario.yaml; exit 1 at the first difference in events.jsonl or metrics.jsonl')
    .argument('<runDir>', 'a run folder (scenario.yaml, events.jsonl, metrics.jsonl)')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .option('--workers <n>', 'model worker threads (0: in the main thread)', nonNegativeInt, 0)
    .action(async (dir: string, opts: { backend?: BackendName; workers: number }) => {
      const learning = await defaultLearningStack({ backend: opts.backend, workers: opts.workers });
      const outcome = await replayRunDir(dir, learning);
      if (outcome.divergence) {
        process.stdout.write(`replay of ${dir} diverges\n${formatDivergence(outcome.divergence)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`replay of ${dir}: identical (${outcome.events} events, ${outcome.metrics} metric rows)\n`);
    });
}
