import { type Command, InvalidArgumentError, Option } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { coverageRatio, formatCoverage, type CoverageScope } from '../../core/explore/coverage.js';
import { formatFinding, parseProperty, type Property } from '../../core/explore/properties.js';
import { FAULT_KINDS, parseFaultKinds, type FaultKind } from '../../core/schedule/fault-space.js';
import { loadScenario } from '../../core/scenario/load.js';
import { explore, type Budget, type ExploreResult, type Progress, type SchedulePool } from '../../explore/explore.js';
import { reproduce, type Reproducer } from '../../explore/reproduce.js';
import { STRATEGIES, type StrategyName } from '../../explore/strategies.js';
import { exploreTarget } from '../../explore/target.js';
import { threadPool } from '../../explore/thread-pool.js';
import type { ScenarioOverride } from '../../core/scenario/overrides.js';
import { nonNegativeInt } from '../options.js';

/** `500` schedules, or a duration: `30s`, `5m`, `1h`, `250ms`. */
function parseBudget(value: string): Budget {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a number of schedules or a duration such as 30s, 5m, 1h; got "${value}"`);
  const n = Number(m[1]);
  if (!m[2]) {
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number of schedules >= 1, got "${value}"`);
    return { schedules: n };
  }
  return { ms: n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] };
}

interface ExploreOpts {
  budget?: Budget;
  strategy: StrategyName;
  maxFaults: number;
  faults?: FaultKind[];
  expect: Property[];
  seed: number;
  out?: string;
  workers: number;
  depth: number;
  hashing: boolean;
  quiet?: boolean;
  nats?: string;
  join?: string;
  rounds?: number;
  protocolOnly?: boolean;
}

export function registerExploreCommand(program: Command): void {
  program
    .command('explore')
    .description('search fault schedules and delivery orders for runs that break the protocol; shrink each failure to a reproducer')
    .argument('[scenario]', 'scenario YAML file (start with scenarios/explore-small.yaml)')
    .option('--budget <n|duration>', 'schedules to try, or for how long (30s, 5m, 1h); default 500, exhaustive: until the space is exhausted', parseBudget)
    .addOption(new Option('--strategy <name>', 'how schedules are chosen').choices(STRATEGIES as string[]).default('random'))
    .option('--max-faults <k>', 'most faults added to one run', nonNegativeInt, 2)
    .option(
      '--faults <kinds>',
      `fault kinds to add (${FAULT_KINDS.join(',')}; default all)`,
      usage((v: string) => parseFaultKinds(v, '--faults')),
    )
    .option(
      '--expect <property>',
      "a property every run must keep: completed, 'accuracy.<actor> >= X', 'skippedRounds <= N' (repeatable)",
      usage((v: string, all: Property[]) => [...all, parseProperty(v)]),
      [],
    )
    .option('--seed <s>', "the explorer's seed (the scenario keeps its own)", nonNegativeInt, 0)
    .option('--rounds <n>', "override the scenario's number of rounds", nonNegativeInt)
    .option('--protocol-only', "explore the protocol alone: every party's model becomes null (no learning; a schedule costs milliseconds)")
    .option('--out <dir>', 'where reproducers, coverage.json and summary.json go (default runs/explore-<time>-<scenario>)')
    .option('--workers <n>', 'worker threads for seeded strategies (exhaustive search runs in one)', nonNegativeInt, availableParallelism())
    .option('--depth <d>', "PCT's bug depth", nonNegativeInt, 3)
    .option('--no-hashing', 'exhaustive search without state hashing')
    .option('--nats <url>', 'hand schedules out through a JetStream work queue to `fedmkt explore --join URL` workers')
    .option('--join <url>', 'be a worker of the exploration coordinated over this NATS server (no scenario argument)')
    .option('--quiet', 'no progress lines')
    .action(async (file: string | undefined, opts: ExploreOpts) => {
      if (opts.join) {
        const { joinExploration } = await import('../../explore/nats-queue.js');
        // The first signal hands the current task back to the queue and stops; a second one kills.
        const stop = new AbortController();
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
        await joinExploration(opts.join, { log: (line) => process.stderr.write(`[explore] ${line}\n`), signal: stop.signal });
        return;
      }
      if (file === undefined) throw new InvalidArgumentError('explore: give a scenario file (or --join URL to work for a coordinator)');
      let doc: Record<string, unknown> = {};
      const scenario = loadScenario(file, { overrides: exploreOverrides(file, opts), onDocument: (d) => (doc = d) });
      const budget = opts.budget ?? (opts.strategy === 'exhaustive' ? {} : { schedules: 500 });
      const outDir = opts.out ?? join('runs', `explore-${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario.name}`);
      const target = await exploreTarget(scenario, { ...(opts.faults ? { kinds: opts.faults } : {}), properties: opts.expect });
      const kinds = opts.faults ?? FAULT_KINDS;
      const scope = { fedAvg: scenario.protocol.fedAvg, abort: scenario.protocol.awaitSLMLogits.onQuorumLost === 'abort' };
      const say = (line: string) => process.stderr.write(`[explore] ${line}\n`);
      say(
        `${scenario.name}: ${opts.strategy}, at most ${opts.maxFaults} added fault${opts.maxFaults === 1 ? '' : 's'} of ${kinds.join(', ')}; budget ${describeBudget(budget)}`,
      );
      let pool: SchedulePool | undefined;
      if (opts.nats) {
        const { natsPool } = await import('../../explore/nats-queue.js');
        pool = await natsPool(opts.nats, {
          file,
          scenarioText: stringify(doc),
          kinds: opts.faults ?? null,
          properties: opts.expect.map((p) => p.text),
          log: say,
        });
      } else if (opts.workers > 1 && opts.strategy !== 'exhaustive')
        // The scenario as overridden here (--rounds, --protocol-only): what the threads must explore too.
        pool = threadPool(opts.workers, { file, scenarioText: stringify(doc), kinds: opts.faults ?? null, properties: opts.expect.map((p) => p.text) });
      let result: ExploreResult;
      try {
        result = await explore(target, {
          strategy: opts.strategy,
          budget,
          maxFaults: opts.maxFaults,
          seed: opts.seed,
          depth: opts.depth,
          noHashing: !opts.hashing,
          ...(pool ? { pool } : {}),
          ...(opts.quiet ? {} : { onProgress: (p: Progress) => say(progressLine(p, kinds, scope)) }),
        });
      } finally {
        await pool?.close();
      }
      mkdirSync(outDir, { recursive: true });
      const reproducers: Reproducer[] = [];
      for (const [i, failure] of result.failures.entries()) {
        say(`shrinking failure ${i + 1}: ${formatFinding(failure.finding)}`);
        reproducers.push(await reproduce(target, failure, doc, join(outDir, `failure-${i + 1}`)));
      }
      writeFileSync(join(outDir, 'coverage.json'), `${JSON.stringify(result.coverage, null, 2)}\n`);
      writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary(result, reproducers, opts, file, scope), null, 2)}\n`);
      process.stdout.write(`${report(result, reproducers, kinds, scope, outDir)}\n`);
      process.exitCode = result.failures.length > 0 ? 1 : 0;
    });
}

/** An option parser whose errors are usage errors (exit 2). */
function usage<A extends unknown[], R>(parse: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return parse(...args);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/** `--rounds N` and `--protocol-only` (every party's model null) as scenario overrides. */
function exploreOverrides(file: string, opts: ExploreOpts): ScenarioOverride[] {
  const out: ScenarioOverride[] = [];
  if (opts.rounds !== undefined) out.push({ path: 'rounds', value: opts.rounds, flag: `--rounds ${opts.rounds}` });
  if (opts.protocolOnly) {
    out.push({ path: 'server.model', value: null, flag: '--protocol-only' });
    const clients = (loadScenario(file, { filesHere: false }).clients ?? []).length;
    for (let i = 0; i < clients; i++) out.push({ path: `clients.${i}.model`, value: null, flag: '--protocol-only' });
  }
  return out;
}

function describeBudget(b: Budget): string {
  if (b.schedules !== undefined) return `${b.schedules} schedules`;
  if (b.ms !== undefined) return `${b.ms / 1000} s`;
  return 'until exhausted';
}

function progressLine(p: Progress, kinds: readonly FaultKind[], scope: CoverageScope): string {
  const { hit, possible } = coverageRatio(p.coverage, kinds, scope);
  const rate = p.elapsedMs > 0 ? (p.schedules / p.elapsedMs) * 1000 : 0;
  const ex = p.exhaustive ? `, ${p.exhaustive.states} states, ${p.exhaustive.pruned} pruned` : '';
  return `${p.schedules} schedules (${rate.toFixed(0)}/s)${ex}, ${p.failures} failure${p.failures === 1 ? '' : 's'}, ${hit}/${possible} cells`;
}

function report(r: ExploreResult, reproducers: readonly Reproducer[], kinds: readonly FaultKind[], scope: CoverageScope, outDir: string): string {
  const rate = r.elapsedMs > 0 ? (r.schedules / r.elapsedMs) * 1000 : 0;
  const lines = [formatCoverage(r.coverage, kinds, scope), ''];
  lines.push(
    `${r.schedules} schedules in ${(r.elapsedMs / 1000).toFixed(1)} s (${rate.toFixed(0)} per second), ${r.meanFaults.toFixed(2)} added faults per schedule on average`,
  );
  if (r.exhaustive) {
    const e = r.exhaustive;
    lines.push(
      `exhaustive: ${e.states} distinct states, ${e.schedules} schedules (${e.pruned} stopped at a state already seen), deepest ${e.maxDepth} choices; ${e.exhausted ? 'the space was exhausted' : 'the space was NOT exhausted within the budget'}`,
    );
  }
  if (reproducers.length === 0) lines.push('no failure found');
  for (const [i, rep] of reproducers.entries()) {
    lines.push(
      '',
      `failure ${i + 1}: ${formatFinding(rep.finding)}`,
      `  ${rep.faultsBefore} faults -> ${rep.faultsAfter} faults${rep.readable ? '' : ' (exact schedule; no readable form reproduced it)'}`,
    );
    for (const l of rep.lines) lines.push(`    ${l}`);
    lines.push(`  reproduce: ${rep.command}`);
  }
  lines.push('', `outputs in ${outDir}`);
  return lines.join('\n');
}

function summary(r: ExploreResult, reproducers: readonly Reproducer[], opts: ExploreOpts, file: string, scope: CoverageScope): unknown {
  return {
    scenario: file,
    strategy: opts.strategy,
    maxFaults: opts.maxFaults,
    seed: opts.seed,
    schedules: r.schedules,
    elapsedMs: r.elapsedMs,
    schedulesPerSecond: r.elapsedMs > 0 ? (r.schedules / r.elapsedMs) * 1000 : 0,
    meanAddedFaults: r.meanFaults,
    exhaustive: r.exhaustive ?? null,
    coverage: { ...coverageRatio(r.coverage, opts.faults ?? FAULT_KINDS, scope), kinds: opts.faults ?? FAULT_KINDS, scope },
    failures: reproducers.map((rep) => ({
      ...rep.finding,
      dir: rep.dir,
      faultsBefore: rep.faultsBefore,
      faultsAfter: rep.faultsAfter,
      readable: rep.readable,
      reproduce: rep.command,
    })),
  };
}
