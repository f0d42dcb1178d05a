/**
 * `fedmkt explore`: search a scenario's fault schedules and delivery orders for runs that break
 * an invariant, never end, or break a stated property; shrink each distinct failure to a
 * minimal reproducer; report coverage.
 */
import { emptyCoverage, mergeCoverage, type Coverage } from '../core/explore/coverage.js';
import { signatureOf, type Finding } from '../core/explore/properties.js';
import { scenarioScheduler, type MadeChoice, type Scheduler } from '../core/schedule/choices.js';
import { ExhaustiveSearch, type ExhaustiveStats } from './exhaustive.js';
import { runSchedule, type ExploreTarget, type ScheduleOutcome } from './runner.js';
import { seededScheduler, type StrategyName, type StrategySettings } from './strategies.js';

/** Schedules handed to a pool at a time: budgets and failures are looked at between batches. */
const BATCH = 128;

export interface Budget {
  schedules?: number;
  ms?: number;
}

export interface ExploreSettings {
  strategy: StrategyName;
  budget: Budget;
  maxFaults: number;
  seed: number;
  /** PCT's bug depth. */
  depth?: number;
  /** Exhaustive search without state hashing (every schedule run to its end). */
  noHashing?: boolean;
  /** Stop after this many distinct failures (default 10). */
  maxFailures?: number;
  /** Run seeded schedules elsewhere (worker threads, NATS workers): indices in, outcomes out. */
  pool?: SchedulePool;
  onProgress?: (progress: Progress) => void;
}

/** Runs seeded schedules, maybe in parallel; outcomes come back in any order. */
export interface SchedulePool {
  run(indices: readonly number[], settings: StrategySettings, strategy: StrategyName, each: (index: number, outcome: PoolOutcome) => void): Promise<void>;
  close(): Promise<void>;
}

/** What a schedule run elsewhere sends back: enough to merge coverage and replay a failure. */
export interface PoolOutcome {
  findings: Finding[];
  coverage: Coverage;
  made: MadeChoice[];
  faults: number;
  /** Faults the schedule added. */
  added: number;
}

export interface Progress {
  schedules: number;
  elapsedMs: number;
  failures: number;
  coverage: Coverage;
  exhaustive?: ExhaustiveStats;
}

export interface FoundFailure {
  signature: string;
  finding: Finding;
  /** Every choice of the run that first showed it. */
  made: MadeChoice[];
  /** The schedule that showed it (its index, or the exhaustive search's count). */
  schedule: number;
}

export interface ExploreResult {
  schedules: number;
  elapsedMs: number;
  failures: FoundFailure[];
  coverage: Coverage;
  settings: StrategySettings;
  exhaustive?: ExhaustiveStats;
  /** Added faults per schedule, on average. */
  meanFaults: number;
}

export async function explore(target: ExploreTarget, settings: ExploreSettings): Promise<ExploreResult> {
  const started = Date.now();
  const coverage = emptyCoverage();
  const failures = new Map<string, FoundFailure>();
  const maxFailures = settings.maxFailures ?? 10;
  let schedules = 0;
  let added = 0;
  const note = (outcome: PoolOutcome, index: number) => {
    schedules++;
    added += outcome.added;
    mergeCoverage(coverage, outcome.coverage);
    for (const finding of outcome.findings) {
      const signature = signatureOf(finding);
      if (!failures.has(signature) && failures.size < maxFailures) failures.set(signature, { signature, finding, made: outcome.made, schedule: index });
    }
  };
  const out = () => ({ schedules, elapsedMs: Date.now() - started, failures: [...failures.values()], coverage });
  const overBudget = () =>
    failures.size >= maxFailures ||
    (settings.budget.schedules !== undefined && schedules >= settings.budget.schedules) ||
    (settings.budget.ms !== undefined && Date.now() - started >= settings.budget.ms);
  let lastReport = 0;
  const report = (exhaustive?: ExhaustiveStats) => {
    if (!settings.onProgress || Date.now() - lastReport < 1000) return;
    lastReport = Date.now();
    settings.onProgress({ ...out(), failures: failures.size, ...(exhaustive ? { exhaustive } : {}) });
  };

  // Schedule 0: the scenario as it is, no fault added; it also sizes the random strategies.
  const baseline = await runSchedule(target, scenarioScheduler);
  note(baseline, 0);
  const strategySettings: StrategySettings = {
    seed: settings.seed,
    maxFaults: settings.maxFaults,
    depth: settings.depth ?? 3,
    faultPoints: baseline.made.filter((m) => m.point.kind === 'message' || m.point.kind === 'actor').length,
    steps: baseline.made.filter((m) => m.point.kind !== 'rule').length,
  };
  const finish = (exhaustive?: ExhaustiveStats): ExploreResult => ({
    ...out(),
    settings: strategySettings,
    meanFaults: schedules > 1 ? added / (schedules - 1) : 0,
    ...(exhaustive ? { exhaustive } : {}),
  });

  if (settings.strategy === 'exhaustive') {
    const search = new ExhaustiveSearch(settings.maxFaults, !settings.noHashing);
    for (let scheduler = search.next(); scheduler && !overBudget(); scheduler = search.next()) {
      const outcome = await runSchedule(target, scheduler, { stopWhen: () => scheduler.stopWhen(), onStart: (w) => scheduler.onStart(w) });
      search.done(outcome.stopped);
      note(outcome, search.stats.schedules);
      report(search.stats);
    }
    return finish(search.stats);
  }

  const strategy = settings.strategy;
  let next = 1;
  if (settings.pool) {
    // In batches, so budgets and failures stop the search soon after they are met.
    while (!overBudget()) {
      const left = settings.budget.schedules !== undefined ? settings.budget.schedules - schedules : Infinity;
      const batch = Array.from({ length: Math.max(1, Math.min(BATCH, left)) }, (_, i) => next + i);
      next += batch.length;
      await settings.pool.run(batch, strategySettings, strategy, (index, outcome) => {
        note(outcome, index);
        report();
      });
    }
    return finish();
  }
  while (!overBudget()) {
    const scheduler: Scheduler = seededScheduler(strategy, strategySettings, next);
    note(await runSchedule(target, scheduler), next);
    next++;
    report();
  }
  return finish();
}

/** What a pool sends back of a schedule's outcome. */
export function poolOutcome(outcome: ScheduleOutcome): PoolOutcome {
  return {
    findings: outcome.findings,
    coverage: outcome.coverage,
    made: outcome.findings.length > 0 ? outcome.made : [],
    faults: outcome.faults,
    added: outcome.added,
  };
}
