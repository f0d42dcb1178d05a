/**
 * One schedule of an exploration: the whole federation (the real machines, actors, codec and
 * fault layer) on the virtual clock, every choice made by a scheduler and recorded, then what
 * the run broke: invariants, ending, and the stated properties.
 */
import type { RunEvent, RoundMetrics } from '../core/records.js';
import { runFederation, type LearningStack, type RunOptions } from '../actors/federation.js';
import type { FederationData } from '../actors/federation-data.js';
import { coverageOf, type Coverage } from '../core/explore/coverage.js';
import { checkRun, type Finding, type Property } from '../core/explore/properties.js';
import { quietChoice, RecordingScheduler, type MadeChoice, type Scheduler } from '../core/schedule/choices.js';
import type { FaultSpace } from '../core/schedule/fault-space.js';
import type { Scenario } from '../core/scenario/schema.js';

export interface ExploreTarget {
  scenario: Scenario;
  data: FederationData;
  learning: LearningStack;
  /** The faults a search may add (null: none, only the scenario's own). */
  space: FaultSpace | null;
  properties: readonly Property[];
  /** Machine variants to run instead of the project's (planted bugs). */
  machines?: RunOptions['machines'];
  /** Virtual ms after which a run that has not ended never ends. */
  limitMs: number;
  /** Events after which a run that has not ended never ends (a loop at one instant). */
  maxEvents: number;
}

export interface ScheduleOutcome {
  made: MadeChoice[];
  findings: Finding[];
  coverage: Coverage;
  /** Faults that happened (scenario's and added). */
  faults: number;
  /** Faults the scheduler added (at message and actor points). */
  added: number;
  /** The strategy stopped the run early (a state it had seen). */
  stopped: boolean;
  events: RunEvent[];
  metrics: RoundMetrics[];
  virtualMs: number;
}

export interface ScheduleHooks {
  stopWhen?: () => boolean;
  onStart?: (world: { digest(): string }) => void;
  /** Write the run's records here (events.jsonl, ...). */
  outDir?: string;
}

export async function runSchedule(
  target: ExploreTarget,
  scheduler: Scheduler,
  hooks: ScheduleHooks = {},
  scenario: Scenario = target.scenario,
): Promise<ScheduleOutcome> {
  const recording = new RecordingScheduler(scheduler);
  let events = 0;
  let runaway = false;
  const result = await runFederation(scenario, {
    learning: target.learning,
    data: target.data,
    ...(hooks.outDir ? { outDir: hooks.outDir } : {}),
    onEvent: () => void events++,
    ...(target.machines ? { machines: target.machines } : {}),
    schedule: {
      scheduler: recording,
      space: target.space,
      limitMs: target.limitMs,
      stopWhen: () => (events > target.maxEvents && (runaway = true)) || (hooks.stopWhen?.() ?? false),
      ...(hooks.onStart ? { onStart: hooks.onStart } : {}),
    },
  });
  const stopped = result.stopped && !runaway;
  const findings = checkRun(
    {
      events: result.recorder.events,
      metrics: result.recorder.metrics,
      finalStates: result.finalStates,
      violations: result.violations,
      timedOut: result.timedOut || runaway,
      failures: result.failures,
    },
    // A run stopped early has no end: only what it did so far is judged.
    stopped ? [] : target.properties,
  );
  const coverage = coverageOf(result.recorder.events);
  let faults = 0;
  for (const kinds of Object.values(coverage.cells)) for (const n of Object.values(kinds)) faults += n as number;
  const added = recording.made.filter((m) => (m.point.kind === 'message' || m.point.kind === 'actor') && m.option !== quietChoice(m.point)).length;
  return {
    made: recording.made,
    findings,
    coverage,
    faults,
    added,
    stopped,
    events: result.recorder.events,
    metrics: result.recorder.metrics,
    virtualMs: result.virtualMs,
  };
}
