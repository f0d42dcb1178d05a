/**
 * What every place that runs seeded schedules for an exploration does (a worker thread, a
 * process joined over NATS): load the scenario the coordinator names, build the same target,
 * and run the schedules it is handed.
 */
import { parseProperty } from '../core/explore/properties.js';
import type { FaultKind } from '../core/schedule/fault-space.js';
import { parseScenario } from '../core/scenario/load.js';
import { poolOutcome, type PoolOutcome } from './explore.js';
import { runSchedule, type ExploreTarget } from './runner.js';
import { seededScheduler, type SeededStrategy, type StrategySettings } from './strategies.js';
import { exploreTarget } from './target.js';

/** The exploration a worker takes part in: the scenario's text, so workers need no shared disk. */
export interface ExplorationSpec {
  scenarioText: string;
  file: string;
  kinds: FaultKind[] | null;
  properties: string[];
}

export interface ScheduleTask {
  indices: number[];
  settings: StrategySettings;
  strategy: SeededStrategy;
}

export function specTarget(spec: ExplorationSpec): Promise<ExploreTarget> {
  return exploreTarget(parseScenario(spec.scenarioText, spec.file), {
    ...(spec.kinds ? { kinds: spec.kinds } : {}),
    properties: spec.properties.map(parseProperty),
  });
}

export async function runTask(target: ExploreTarget, task: ScheduleTask, each: (index: number, outcome: PoolOutcome) => void): Promise<void> {
  for (const index of task.indices) each(index, poolOutcome(await runSchedule(target, seededScheduler(task.strategy, task.settings, index))));
}
