/**
 * Reads what a run left behind (see actors/run-recorder.ts): events.jsonl, metrics.jsonl and,
 * when present, scenario.yaml and clock.json. Blank lines are skipped; a last line cut short by
 * a kill is reported as such; any other line that is not JSON is counted and skipped, so a run
 * cut short still gets a report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { EventKind, RoundMetrics } from '../../core/records.js';
import { splitJsonl } from '../../core/jsonl.js';
import { readRunClock, type RunClock } from '../../core/run-clock.js';

/**
 * A row of events.jsonl: a RunEvent (actors/run-recorder.ts), or a kind
 * the recorder does not know yet (transport faults: `drop`, `duplicate`, `delay`, `corrupt`, `crash`).
 */
export interface RecordedEvent {
  t: number;
  actor: string;
  round: number;
  kind: EventKind | (string & {});
  [detail: string]: unknown;
}

export interface RunData {
  /** The run directory's name, or the scenario's `name`. */
  name: string;
  dir: string;
  events: RecordedEvent[];
  metrics: RoundMetrics[];
  /** scenario.yaml as written, or null. */
  scenarioText: string | null;
  /** Lines of events.jsonl / metrics.jsonl that could not be read (a last line cut short aside). */
  badLines: number;
  /** Files whose last line was cut short, with that line's number. */
  cutShort: { file: string; line: number }[];
  /** The clock the run's times are on. */
  clock: RunClock;
}

export function readRun(runDir: string): RunData {
  const dir = resolve(runDir);
  if (!existsSync(dir)) throw new Error(`${runDir}: no such run directory`);
  let badLines = 0;
  const cutShort: RunData['cutShort'] = [];
  const readJsonl = <T>(file: string): T[] => {
    const path = join(dir, file);
    if (!existsSync(path)) return [];
    const out: T[] = [];
    const text = splitJsonl(readFileSync(path, 'utf8'));
    if (text.cutShortAt !== null) cutShort.push({ file, line: text.cutShortAt });
    for (const line of text.lines) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        badLines++;
      }
    }
    return out;
  };
  const events = readJsonl<RecordedEvent>('events.jsonl');
  const metrics = readJsonl<RoundMetrics>('metrics.jsonl');
  if (events.length === 0 && metrics.length === 0 && !existsSync(join(dir, 'events.jsonl')) && !existsSync(join(dir, 'metrics.jsonl')))
    throw new Error(`${runDir}: neither events.jsonl nor metrics.jsonl found`);
  const scenarioPath = ['scenario.yaml', 'scenario.yml'].map((f) => join(dir, f)).find((p) => existsSync(p));
  const scenarioText = scenarioPath ? readFileSync(scenarioPath, 'utf8') : null;
  const scenarioName = scenarioText?.match(/^name:\s*["']?([A-Za-z0-9_-]+)["']?\s*$/m)?.[1];
  let earliest = Infinity;
  for (const e of events) if (Number.isFinite(e.t) && e.t < earliest) earliest = e.t;
  const clock = readRunClock(dir, Number.isFinite(earliest) ? earliest : 0);
  return { name: scenarioName ?? basename(dir), dir, events, metrics, scenarioText, badLines, cutShort, clock };
}
