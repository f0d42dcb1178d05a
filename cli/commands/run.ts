import { Command, InvalidArgumentError } from 'commander';
import { availableParallelism } from 'node:os';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import { resumePoint, type ResumePoint } from '../../actors/round-checkpoints.js';
import type { RunEvent } from '../../actors/run-recorder.js';
import { formatViolation } from '../../core/invariants/check.js';
import type { BackendName } from '../../core/models/backend.js';
import { parseBigramSpec } from '../../core/models/bigram.js';
import { loadScenario } from '../../core/scenario/load.js';
import { loadSchedule, scheduleMisfits } from '../../core/schedule/load.js';
import { isProtocolOnly, type Scenario } from '../../core/scenario/schema.js';
import { startLiveRun } from '../../core/live/index.js';
import { progressReporter } from '../progress.js';
import { roundSummaryTable } from '../summary.js';

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

/**
 * Scenario overrides from the command line, applied before validation so errors name them.
 * `protocolOnly`: every party's model becomes null (no learning, the protocol alone).
 */
export function applyOverrides(doc: unknown, overrides: { seed?: number; rounds?: number; protocolOnly?: boolean }): unknown {
  if (doc === null || typeof doc !== 'object') return doc;
  const out = { ...(doc as Record<string, unknown>) };
  if (overrides.seed !== undefined) out.seed = overrides.seed;
  if (overrides.rounds !== undefined) out.rounds = overrides.rounds;
  if (overrides.protocolOnly) {
    const withoutModel = (party: unknown) => (party && typeof party === 'object' ? { ...(party as Record<string, unknown>), model: null } : party);
    out.server = withoutModel(out.server);
    if (Array.isArray(out.clients)) out.clients = out.clients.map(withoutModel);
  }
  return out;
}

/**
 * Round checkpoints by default unless a party is a bigram model or none (model: null): protocol-scale runs have up to
 * thousands of those, each checkpoint with its V x V base table (`--checkpoints` writes them).
 */
export function checkpointsByDefault(scenario: Scenario): boolean {
  return [scenario.server, ...scenario.clients].every((party) => party.model !== null && parseBigramSpec(party.model) === null);
}

interface RunOpts {
  seed?: number;
  rounds?: number;
  out?: string;
  resume?: string;
  checkpoints?: boolean;
  backend?: BackendName;
  workers: number;
  quiet?: boolean;
  transport: string;
  nats?: string;
  spawnNats?: boolean;
  ui?: boolean;
  uiPort?: number;
  uiExit?: boolean;
  inspect?: boolean | string;
  schedule?: string;
}

/** The scenario, output folder and resume point of `run FILE` or `run --resume DIR`. */
function runTarget(file: string | undefined, opts: RunOpts): { scenario: Scenario; outDir: string; resume?: ResumePoint } {
  if (opts.resume === undefined) {
    if (file === undefined) throw new InvalidArgumentError('run: give a scenario file, or --resume RUN_DIR');
    const scenario = loadScenario(file, (doc) => applyOverrides(doc, opts));
    return { scenario, outDir: opts.out ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario.name}`) };
  }
  const dir = opts.resume;
  if (file !== undefined) throw new InvalidArgumentError(`--resume ${dir}: the scenario is the run's own (${join(dir, 'scenario.yaml')}); give no scenario file`);
  if (opts.out !== undefined) throw new InvalidArgumentError(`--resume ${dir}: a resumed run writes into its own folder; drop --out`);
  if (opts.seed !== undefined) throw new InvalidArgumentError(`--resume ${dir}: the seed is the run's own; drop --seed`);
  const scenarioFile = join(dir, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw new InvalidArgumentError(`--resume ${dir}: no scenario.yaml there, so not a run folder`);
  // --rounds may extend a finished run.
  const scenario = loadScenario(scenarioFile, (doc) => applyOverrides(doc, { ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}) }));
  return { scenario, outDir: dir, resume: resumePoint(dir, ['server', ...scenario.clients.map((c) => c.id)]) };
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a whole federation from a scenario file (in-memory transport, virtual clock)')
    .argument('[scenario]', 'scenario YAML file (none with --resume)')
    .option('--seed <n>', 'override the scenario seed', nonNegativeInt)
    .option('--rounds <n>', 'override the number of rounds', nonNegativeInt)
    .option('--out <dir>', 'output folder (default runs/<time>-<scenario>)')
    .option('--resume <dir>', "resume the run in DIR from its latest round checkpoints (with --rounds N: go on to round N)")
    .option('--checkpoints', 'write round checkpoints, bigram models too (default: after every round unless a party is a bigram model)')
    .option('--no-checkpoints', 'write no round checkpoints')
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .option('--workers <n>', 'model worker threads (0: in the main thread)', nonNegativeInt, Math.min(availableParallelism(), 4))
    .option('--transport <name>', 'memory (virtual clock) | nats (wall clock)', 'memory')
    .option('--nats <url>', 'NATS server URL(s), comma-separated (implies --transport nats)')
    .option('--spawn-nats', 'start a local nats-server on a free loopback port for the run (implies --transport nats)')
    .option('--quiet', 'no live progress')
    .option('--ui', 'serve a live view of the run on 127.0.0.1 (prints its URL; stays open after the run until Ctrl-C)')
    .option('--ui-port <n>', 'port of the live view (default: a free one; implies --ui)', nonNegativeInt)
    .option('--ui-exit', 'close the live view when the run ends (implies --ui)')
    .option('--inspect [url]', "mirror the run to Stately's inspector when @statelyai/inspect is installed (stately.ai, or a ws:// URL)")
    .option('--schedule <file>', 'make every choice as this schedule records it (a reproducer of fedmkt explore); in-memory runs only')
    .action(async (file: string | undefined, opts: RunOpts) => {
      const { scenario, outDir, resume } = runTarget(file, opts);
      if (opts.schedule !== undefined && (resume || opts.transport === 'nats' || opts.nats !== undefined || opts.spawnNats))
        throw new InvalidArgumentError('--schedule: a schedule replays a fresh in-memory run (virtual clock); drop --resume and NATS');
      const replayed = opts.schedule !== undefined ? loadSchedule(opts.schedule, scenario) : undefined;
      const ids = ['server', ...scenario.clients.map((c) => c.id)];
      process.stderr.write(`[fedmkt] ${scenario.name}: server + ${scenario.clients.length} clients, ${scenario.rounds} rounds, seed ${scenario.seed}\n`);
      if (resume) {
        const from = Object.entries(resume.actors).map(([id, c]) => `${id}@${c?.round ?? 'base'}`);
        process.stderr.write(`[fedmkt] resuming ${outDir} after round ${resume.afterRound} (${from.join(' ')}) at virtual ${(resume.at / 1000).toFixed(1)} s\n`);
      }
      const checkpoints = opts.checkpoints ?? checkpointsByDefault(scenario);
      const ui = opts.ui || opts.uiPort !== undefined || opts.uiExit === true;
      const overNats = opts.transport === 'nats' || opts.nats !== undefined || opts.spawnNats === true;
      const live = await startLiveRun(scenario, {
        ...(overNats ? { clock: 'wall' as const } : {}), ui, ...(opts.uiPort !== undefined ? { port: opts.uiPort } : {}), exitAtEnd: opts.uiExit === true, ...(opts.inspect !== undefined ? { inspect: opts.inspect } : {}) });
      const progress = opts.quiet ? null : progressReporter(ids);
      if (!overNats && opts.transport !== 'memory') throw new InvalidArgumentError(`--transport: expected memory or nats, got "${opts.transport}"`);
      const log = (line: string) => process.stderr.write(`[fedmkt] ${line}\n`);
      const learning = await defaultLearningStack({ backend: opts.backend, workers: isProtocolOnly(scenario) ? 0 : opts.workers, log });
      const onEvent = progress || live ? { onEvent: (event: RunEvent) => (progress?.(event), live?.onEvent(event)) } : {};
      const result = overNats
        ? await runOverNats(scenario, {
            ...(opts.nats ? { servers: opts.nats.split(',') } : {}),
            spawn: opts.spawnNats === true,
            learning,
            outDir,
            checkpoints,
            ...(resume ? { resume: true } : {}),
            log,
            ...onEvent,
          })
        : await runFederation(scenario, {
            outDir,
            learning,
            checkpoints,
            ...(resume ? { resume } : {}),
            ...(replayed ? { schedule: { scheduler: replayed.scheduler, space: replayed.space } } : {}),
            ...onEvent,
          });
      if (replayed) {
        // Kept with the run, so that `fedmkt replay` and saved regression runs replay it too.
        writeFileSync(join(outDir, 'schedule.json'), `${JSON.stringify(replayed.file, null, 2)}\n`);
        const misfits = scheduleMisfits(replayed);
        if (misfits.length > 0) process.stderr.write(`[fedmkt] the schedule did not fit this run (${misfits.length}):\n${misfits.map((m) => `  ${m}`).join('\n')}\n`);
      }
      process.stdout.write(`\n${roundSummaryTable(result.recorder.metrics)}\n\n`);
      process.stdout.write(
        `final states: ${Object.entries(result.finalStates)
          .map(([id, s]) => `${id}=${s}`)
          .join(' ')}\n`,
      );
      if (result.timedOut) process.stdout.write('the run never ended: it was cut off at its limit of virtual time (neverEndsAfterMs)\n');
      for (const [id, why] of Object.entries(result.failures)) process.stdout.write(`  ${id} ${result.timedOut && why.startsWith('still in') ? 'did not end' : 'failed'}: ${why}\n`);
      process.stdout.write(
        `virtual time ${(result.virtualMs / 1000).toFixed(1)} s, wall time ${result.wallSeconds.toFixed(1)} s; outputs in ${outDir}\n`,
      );
      if (result.violations.length > 0) {
        process.stdout.write(`\n${result.violations.length} protocol invariant violation${result.violations.length === 1 ? '' : 's'}:\n`);
        for (const v of result.violations) process.stdout.write(`${formatViolation(v)}\n`);
      }
      if (Object.keys(result.failures).length > 0 || result.violations.length > 0 || result.timedOut) process.exitCode = 1;
      await live?.finish({ finalStates: result.finalStates, text: `virtual time ${(result.virtualMs / 1000).toFixed(1)} s, wall time ${result.wallSeconds.toFixed(1)} s` });
    });
}
