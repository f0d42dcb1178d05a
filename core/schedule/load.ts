/**
 * A schedule file for a run of a scenario (`fedmkt run --schedule`, replay, saved regression
 * runs): its choices replayed, with the explorer's fault space open so that every fault it
 * added can be added again.
 */
import { readFileSync } from 'node:fs';
import type { Scenario } from '../scenario/schema.js';
import { parseScheduleFile, ReplayScheduler, type ScheduleFile } from './choices.js';
import { faultSpace, type FaultSpace } from './fault-space.js';

export interface LoadedSchedule {
  file: ScheduleFile;
  scheduler: ReplayScheduler;
  space: FaultSpace;
}

export function loadSchedule(path: string, scenario: Scenario): LoadedSchedule {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`--schedule ${path}: cannot read it (${(error as Error).message})`);
  }
  const file = parseScheduleFile(text, path);
  if (file.scenario !== scenario.name || file.seed !== scenario.seed)
    throw new Error(`--schedule ${path}: recorded for scenario ${file.scenario} with seed ${file.seed}, not ${scenario.name} with seed ${scenario.seed}`);
  const p = scenario.protocol;
  return {
    file,
    scheduler: new ReplayScheduler(file.choices),
    space: faultSpace({ uploadMs: p.awaitSLMLogits.deadlineMs, llmLogitsMs: p.awaitLLMLogits.deadlineMs }),
  };
}

/** What did not fit: recorded choices the run never reached, or whose option it did not offer. */
export function scheduleMisfits(loaded: LoadedSchedule): string[] {
  const out = loaded.scheduler.unreached().map((key) => `never reached: ${key}`);
  for (const m of loaded.scheduler.mismatches) out.push(`${m.key}: recorded "${m.choice}", offered ${m.options.join(', ')}`);
  return out;
}
