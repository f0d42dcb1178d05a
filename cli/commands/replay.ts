/**
 * `fedmkt replay RUN_DIR`: re-executes a run from RUN_DIR/scenario.yaml (faults and seed
 * included) and compares the new events.jsonl and metrics.jsonl with the saved ones, line by
 * line. Exits 1 at the first difference, printing its line number and both versions.
 *
 * A resumed run is replayed from the checkpoints of the round it went on after (the records
 * before the resume are the killed run's, kept as they were); when those checkpoints are gone,
 * from the start, comparing what every actor learned. A file cut short by a kill is compared up
 * to its last complete line, and said to be cut short.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation, type LearningStack, type RunResult } from '../../actors/federation.js';
import { loadSchedule, type LoadedSchedule } from '../../core/schedule/load.js';
import { checkpointParties, resumePointAt, type ResumePoint } from '../../actors/round-checkpoints.js';
import type { RunEvent } from '../../core/records.js';
import { describeCutShort, splitJsonl, type JsonlText } from '../../core/jsonl.js';
import type { BackendName } from '../../core/models/backend.js';
import { readRunClock } from '../../core/run-clock.js';
import { loadScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { backendOption, nonNegativeInt } from '../options.js';

type RecordFile = 'events.jsonl' | 'metrics.jsonl';

export interface Divergence {
  file: RecordFile;
  /** 1-based line number. */
  line: number;
  /** The saved line (null: the saved file ended before). */
  expected: string | null;
  /** The replayed line (null: the replay ended before). */
  actual: string | null;
}

/** A saved file that ends before the replay does, every line of it matching: the run was stopped. */
export interface CutShort {
  file: RecordFile;
  /** Its last complete line. */
  lastLine: number;
  /** Whether a partly written line follows it (a kill in the middle of a write). */
  partialLine: boolean;
}

export interface ReplayOutcome {
  divergence: Divergence | null;
  events: number;
  metrics: number;
  result: RunResult;
  /** From the start, or (a resumed run) from the checkpoints of the round it went on after. */
  from: { kind: 'start' } | { kind: 'checkpoint'; afterRound: number };
  cutShort: CutShort[];
  /** A resumed run replayed from the start: only what every actor learned is compared. */
  learnedOnly: boolean;
}

/** The first line at which two JSONL texts differ. */
export function firstDivergence(file: RecordFile, expected: readonly string[], actual: readonly string[]): Divergence | null {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i] ?? null;
    const a = actual[i] ?? null;
    if (e !== a) return { file, line: i + 1, expected: e, actual: a };
  }
  return null;
}

/**
 * Saved against replayed lines: a difference, or the saved file stopping early, which is no
 * difference when the run was stopped there (`stopped`: a line cut short, or a run not finished).
 */
function compare(
  file: RecordFile,
  saved: JsonlText,
  actual: readonly string[],
  stopped: boolean,
): { divergence: Divergence | null; cutShort: CutShort | null } {
  const divergence = firstDivergence(file, saved.lines, actual);
  if (divergence?.expected === null && stopped)
    return { divergence: null, cutShort: { file, lastLine: saved.lines.length, partialLine: saved.cutShortAt !== null } };
  return { divergence, cutShort: null };
}

const FINAL_STATES = new Set(['done', 'failed']);

/** Whether every actor of a trace came to an end: a final state, or offline for good. */
export function runFinished(lines: readonly string[]): boolean {
  const last = new Map<string, string>();
  for (const line of lines) {
    const e = JSON.parse(line) as RunEvent;
    if (e.kind === 'state') last.set(e.actor, String(e.state));
    else if (e.kind === 'dropout' || e.kind === 'crash') last.set(e.actor, 'offline');
    else if (e.kind === 'rejoin' || e.kind === 'restart') last.set(e.actor, 'back');
  }
  return last.size > 0 && [...last.values()].every((s) => FINAL_STATES.has(s) || s === 'offline');
}

function readSaved(dir: string, file: RecordFile): JsonlText | null {
  const path = join(dir, file);
  return existsSync(path) ? splitJsonl(readFileSync(path, 'utf8')) : null;
}

/** The last resume of a run: the line its `resume` events start at, the round, and who resumed. */
function lastResume(lines: readonly string[]): { line: number; afterRound: number; actors: string[] } | null {
  const isResume = (line: string | undefined) => line?.includes('"kind":"resume"') && (JSON.parse(line) as RunEvent).kind === 'resume';
  let end = lines.length - 1;
  while (end >= 0 && !isResume(lines[end])) end--;
  if (end < 0) return null;
  let start = end;
  while (start > 0 && isResume(lines[start - 1])) start--;
  const group = lines.slice(start, end + 1).map((l) => JSON.parse(l) as RunEvent);
  return { line: start, afterRound: group[0]!.round, actors: group.map((e) => e.actor) };
}

/** Message ids each actor had used before the resume: one less than its first id after it. */
function usedBeforeResume(lines: readonly string[]): Record<string, number> {
  const used: Record<string, number> = {};
  for (const line of lines) {
    const e = JSON.parse(line) as RunEvent;
    if (e.kind !== 'send' || typeof e.id !== 'string' || e.actor in used) continue;
    used[e.actor] = Number(e.id.slice(e.id.lastIndexOf(':') + 1)) - 1;
  }
  return used;
}

/** What each actor learned, in order of round and actor: what a resumed run must reproduce. */
function learned(lines: readonly string[]): string[] {
  const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  rows.sort((a, b) => Number(a.round) - Number(b.round) || String(a.actor).localeCompare(String(b.actor)));
  return rows.map((m) =>
    JSON.stringify({ round: m.round, actor: m.actor, accuracy: m.accuracy, publicCE: m.publicCE, trainLoss: m.trainLoss, distillLoss: m.distillLoss }),
  );
}

/**
 * Replay the run saved in `dir` (scenario.yaml, events.jsonl and, when present, metrics.jsonl)
 * and report the first difference.
 */
export async function replayRunDir(dir: string, learning: LearningStack): Promise<ReplayOutcome> {
  const scenarioFile = join(dir, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw new InvalidArgumentError(`${dir}: no scenario.yaml (not a run folder?)`);
  const scenario = loadScenario(scenarioFile);
  const events = readSaved(dir, 'events.jsonl');
  if (!events) throw new InvalidArgumentError(`${dir}: no events.jsonl to compare with`);
  const firstT = events.lines.length > 0 ? (JSON.parse(events.lines[0]!) as RunEvent).t : 0;
  if (readRunClock(dir, firstT).kind === 'wall')
    throw new InvalidArgumentError(`${dir} ran over NATS on the wall clock: its times cannot be replayed (replay re-executes local runs on the virtual clock)`);
  const metrics = readSaved(dir, 'metrics.jsonl');
  const resumed = lastResume(events.lines);
  let point: ResumePoint | null = null;
  if (resumed) {
    try {
      const { population } = checkpointParties(scenario);
      point = { ...resumePointAt(dir, resumed.actors, resumed.afterRound, population), usedSequence: usedBeforeResume(events.lines.slice(resumed.line)) };
    } catch {
      point = null; // its checkpoints are gone: from the start
    }
  }
  const scratch = mkdtempSync(join(tmpdir(), 'fedmkt-replay-'));
  try {
    if (point && resumed) {
      // The records the resumed run took over, as it found them.
      writeFileSync(
        join(scratch, 'events.jsonl'),
        events.lines
          .slice(0, resumed.line)
          .map((l) => `${l}\n`)
          .join(''),
      );
      writeFileSync(join(scratch, 'metrics.jsonl'), (metrics?.lines ?? []).map((l) => `${l}\n`).join(''));
    }
    // A run made with --schedule (a reproducer) keeps its schedule: replayed with it.
    const scheduleFile = join(dir, 'schedule.json');
    const schedule = existsSync(scheduleFile) ? loadSchedule(scheduleFile, scenario) : null;
    const result = await replay(scenario, learning, scratch, point, schedule);
    const actualEvents = result.recorder.events.map((e) => JSON.stringify(e));
    const actualMetrics = result.recorder.metrics.map((m) => JSON.stringify(m));
    const learnedOnly = resumed !== null && point === null;
    const stopped = events.cutShortAt !== null || !runFinished(events.lines);
    const checks = [
      ...(learnedOnly ? [] : [compare('events.jsonl', events, actualEvents, stopped)]),
      ...(metrics
        ? [
            learnedOnly
              ? compare('metrics.jsonl', { lines: learned(metrics.lines), cutShortAt: metrics.cutShortAt }, learned(actualMetrics), stopped)
              : compare('metrics.jsonl', metrics, actualMetrics, stopped),
          ]
        : []),
    ];
    return {
      divergence: checks.find((c) => c.divergence)?.divergence ?? null,
      events: actualEvents.length,
      metrics: actualMetrics.length,
      result,
      from: point ? { kind: 'checkpoint', afterRound: point.afterRound } : { kind: 'start' },
      cutShort: checks.flatMap((c) => (c.cutShort ? [c.cutShort] : [])),
      learnedOnly,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function replay(scenario: Scenario, learning: LearningStack, scratch: string, point: ResumePoint | null, schedule: LoadedSchedule | null): Promise<RunResult> {
  const needsDir = point !== null || scenario.faults.persist === 'disk';
  return runFederation(scenario, {
    learning,
    ...(needsDir ? { outDir: scratch } : {}),
    ...(point ? { resume: point } : {}),
    ...(schedule ? { schedule: { scheduler: schedule.scheduler, space: schedule.space } } : {}),
  });
}

export function formatDivergence(d: Divergence): string {
  return [`${d.file} line ${d.line} differs:`, `  expected: ${d.expected ?? '(end of file)'}`, `  actual:   ${d.actual ?? '(end of replay)'}`].join('\n');
}

export function formatCutShort(c: CutShort): string {
  return c.partialLine
    ? `${describeCutShort(c.file, c.lastLine + 1)}: identical up to there`
    : `${c.file} ends after line ${c.lastLine}, before the replayed run does (the run was stopped there): identical up to there`;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('re-execute a run from RUN_DIR/scenario.yaml; exit 1 at the first difference in events.jsonl or metrics.jsonl')
    .argument('<runDir>', 'a run folder (scenario.yaml, events.jsonl, metrics.jsonl)')
    .addOption(backendOption())
    .option('--workers <n>', 'model worker threads (0: in the main thread)', nonNegativeInt, 0)
    .action(async (dir: string, opts: { backend?: BackendName; workers: number }) => {
      const learning = await defaultLearningStack({ backend: opts.backend, workers: opts.workers });
      const outcome = await replayRunDir(dir, learning);
      const how =
        outcome.from.kind === 'checkpoint'
          ? ` (a resumed run: replayed from the checkpoints of round ${outcome.from.afterRound}, where it went on)`
          : outcome.learnedOnly
            ? ' (a resumed run whose checkpoints are gone: replayed from the start, comparing what every actor learned)'
            : '';
      for (const c of outcome.cutShort) process.stdout.write(`${formatCutShort(c)}\n`);
      if (outcome.divergence) {
        process.stdout.write(`replay of ${dir}${how} diverges\n${formatDivergence(outcome.divergence)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`replay of ${dir}${how}: identical (${outcome.events} events, ${outcome.metrics} metric rows replayed)\n`);
    });
}
