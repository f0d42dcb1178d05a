/**
 * Reads what a run left behind (see actors/run-recorder.ts): events.jsonl, metrics.jsonl and,
 * when present, scenario.yaml. Blank lines are skipped; a line that is not JSON is counted
 * and skipped, so a run cut short still gets a report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { EventKind, RoundMetrics } from '../../actors/run-recorder.js';

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
  /** Lines of events.jsonl / metrics.jsonl that could not be read. */
  badLines: number;
}

export function readRun(runDir: string): RunData {
  const dir = resolve(runDir);
  if (!existsSync(dir)) throw new Error(`${runDir}: no such run directory`);
  let badLines = 0;
  const readJsonl = <T>(file: string): T[] => {
    const path = join(dir, file);
    if (!existsSync(path)) return [];
    const out: T[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
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
  return { name: scenarioName ?? basename(dir), dir, events, metrics, scenarioText, badLines };
}
