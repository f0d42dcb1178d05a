import { type Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { type RunResult, runFederation } from '../../actors/federation.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import { type CheckpointParties, checkpointParties, resumePoint, unreadableCheckpoints, type ResumePoint } from '../../actors/round-checkpoints.js';
import type { RunEvent } from '../../core/records.js';
import type { BackendName } from '../../core/models/backend.js';
import { parseBigramSpec } from '../../core/models/bigram-base.js';
import { DROP_LATE_FAULTS_FLAG } from '../../core/scenario/load.js';
import { isProtocolOnly, partiesText, type Scenario } from '../../core/scenario/schema.js';
import { loadSchedule, scheduleMisfits, type LoadedSchedule } from '../../core/schedule/load.js';
import { startLiveRun } from '../../apps/live/index.js';
import { VIRTUAL_CLOCK, type RunClock } from '../../core/run-clock.js';
import { exitOnInterrupt } from '../interrupt.js';
import { plural } from '../../core/wording.js';
import { backendOption, nonNegativeInt, positiveInt, positiveNumber } from '../options.js';
import { log, progressReporter, runTime } from '../progress.js';
import { removeIfNothingRecorded, runTarget } from '../run-target.js';
import { printRunOutcome } from '../summary.js';

/**
 * Round checkpoints by default unless a party (or a population's template) is a bigram model or
 * none (model: null): protocol-scale runs have up to thousands of those, each checkpoint with its
 * V x V base table (`--checkpoints` writes them).
 */
export function checkpointsByDefault(scenario: Scenario): boolean {
  return [scenario.server, ...scenario.clients, ...(scenario.population?.clients ?? [])].every(
    (party) => party.model !== null && parseBigramSpec(party.model) === null,
  );
}

interface RunOpts {
  seed?: number;
  rounds?: number;
  out?: string;
  resume?: string;
  dropLateFaults?: boolean;
  checkpoints?: boolean;
  backend?: BackendName;
  workers: number;
  quiet?: boolean;
  transport: 'memory' | 'nats';
  nats?: string;
  spawnNats?: boolean;
  ui?: boolean;
  uiPort?: number;
  uiExit?: boolean;
  uiPace?: number;
  inspect?: boolean | string;
  schedule?: string;
}

/** The schedule of `--schedule FILE`, or a usage error naming it. */
function scheduleOrUsageError(file: string, scenario: Scenario): LoadedSchedule {
  try {
    return loadSchedule(file, scenario);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Keep the schedule with the run (`fedmkt replay` and saved regression runs replay it too); say what did not fit. */
function keepSchedule(replayed: LoadedSchedule, outDir: string): void {
  writeFileSync(join(outDir, 'schedule.json'), `${JSON.stringify(replayed.file, null, 2)}\n`);
  const misfits = scheduleMisfits(replayed);
  if (misfits.length > 0) log(`the schedule did not fit this run (${misfits.length}):\n${misfits.map((m) => `  ${m}`).join('\n')}`);
}

/** Where a resumed local run goes on from, once its checkpoints are known to read back. */
async function checkedResumePoint(outDir: string, { actors, population, modelless }: CheckpointParties): Promise<ResumePoint> {
  let point: ResumePoint;
  try {
    point = resumePoint(outDir, actors, population);
  } catch (error) {
    throw new InvalidArgumentError(`--resume ${outDir}: ${(error as Error).message}`);
  }
  const unreadable = await unreadableCheckpoints(point, modelless);
  if (unreadable.length > 0) throw new InvalidArgumentError(`--resume ${outDir}: ${unreadable.join('; ')}`);
  return point;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a whole federation from a scenario file (in-memory transport, virtual clock)')
    .argument('[scenario]', 'scenario YAML file (none with --resume)')
    .option('--seed <n>', 'override the scenario seed', nonNegativeInt)
    .option('--rounds <n>', 'override the number of rounds', positiveInt)
    .option(DROP_LATE_FAULTS_FLAG, "with --rounds shorter than the scenario's fault script: leave out the scripted faults after the last round")
    .option('--out <dir>', 'output folder (default runs/<time>-<scenario>)')
    .option('--resume <dir>', "resume the run in DIR from its latest round checkpoints, a population's included (with --rounds N: go on to round N)")
    .option(
      '--checkpoints',
      "write round checkpoints, bigram models too (default: after every round unless a party or a population's template is a bigram model or none)",
    )
    .option('--no-checkpoints', 'write no round checkpoints')
    .addOption(backendOption())
    .option('--workers <n>', 'model worker threads (0: in the main thread)', nonNegativeInt, Math.min(availableParallelism(), 4))
    .addOption(new Option('--transport <name>', 'memory (virtual clock) | nats (wall clock)').choices(['memory', 'nats']).default('memory'))
    .option('--nats <url>', 'NATS server URL(s), comma-separated (implies --transport nats)')
    .option('--spawn-nats', 'start a local nats-server on a free loopback port for the run (implies --transport nats)')
    .option('--quiet', 'no live progress')
    .option('--ui', 'serve a live view of the run on 127.0.0.1 (prints its URL; stays open after the run until Ctrl-C)')
    .option('--ui-port <n>', 'port of the live view (default: a free one; implies --ui)', nonNegativeInt)
    .option('--ui-exit', 'close the live view when the run ends (implies --ui)')
    .option('--ui-pace <speed>', 'in-memory runs: at most this many virtual seconds per second, so that a person can follow (implies --ui)', positiveNumber)
    .option('--inspect [url]', "mirror the run to Stately's inspector when @statelyai/inspect is installed (stately.ai, or a ws:// URL)")
    .option('--schedule <file>', 'make every choice as this schedule records it (a reproducer of fedmkt explore); fresh in-memory runs only')
    .action(async (file: string | undefined, opts: RunOpts) => {
      const { scenario, outDir, resuming } = runTarget(file, opts, log);
      const parties = checkpointParties(scenario);
      const ids = [...parties.actors];
      const overNats = opts.transport === 'nats' || opts.nats !== undefined || opts.spawnNats === true;
      if (opts.schedule !== undefined && (resuming || overNats))
        throw new InvalidArgumentError('--schedule: a schedule replays a fresh in-memory run (virtual clock); drop --resume and NATS');
      const replayed = opts.schedule !== undefined ? scheduleOrUsageError(opts.schedule, scenario) : undefined;
      if (overNats && opts.uiPace !== undefined) throw new InvalidArgumentError('--ui-pace: a run over NATS is on the wall clock already; drop --ui-pace');
      const resume = resuming && !overNats ? await checkedResumePoint(outDir, parties) : undefined;
      const clock: RunClock = overNats ? { kind: 'wall', origin: Date.now() } : VIRTUAL_CLOCK;
      log(`${scenario.name}: server + ${partiesText(scenario)}, ${plural(scenario.rounds, 'round')}, seed ${scenario.seed}`);
      if (resume) {
        const from = Object.entries(resume.actors).map(([id, c]) => `${id}@${c?.round ?? 'base'}`);
        if (resume.population) from.push(`population@${resume.afterRound} (${plural(resume.population.cut.live.length, 'client')} busy then, replayed)`);
        log(`resuming ${outDir} after round ${resume.afterRound} (${from.join(' ')}) at ${runTime(resume.at, clock)}`);
      }
      const checkpoints = opts.checkpoints ?? checkpointsByDefault(scenario);
      const ui = opts.ui || opts.uiPort !== undefined || opts.uiExit === true || opts.uiPace !== undefined;
      const live = await startLiveRun(scenario, {
        clock,
        ui,
        ...(opts.uiPort !== undefined ? { port: opts.uiPort } : {}),
        exitAtEnd: opts.uiExit === true,
        ...(opts.inspect !== undefined ? { inspect: opts.inspect } : {}),
      });
      const progress = opts.quiet ? null : progressReporter(ids, clock);
      // The protocol alone (model: null) has no model work for threads to take.
      const learning = await defaultLearningStack({ backend: opts.backend, workers: isProtocolOnly(scenario) ? 0 : opts.workers, log });
      const onEvent =
        progress || live
          ? {
              onEvent: (event: RunEvent) => {
                progress?.(event);
                live?.onEvent(event);
              },
            }
          : {};
      const existed = existsSync(outDir);
      const resumeCommand = overNats
        ? `npx fedmkt run --resume ${outDir} ${opts.spawnNats ? '--spawn-nats' : `--nats ${opts.nats ?? 'URL'}`}`
        : `npx fedmkt run --resume ${outDir}`;
      const stopWatching = exitOnInterrupt({ outDir, actors: ids, population: parties.population, checkpoints, resumeCommand });
      let result: RunResult;
      try {
        result = overNats
          ? await runOverNats(scenario, {
              ...(opts.nats ? { servers: opts.nats.split(',') } : {}),
              spawn: opts.spawnNats === true,
              learning,
              outDir,
              checkpoints,
              ...(resuming ? { resume: true } : {}),
              log,
              ...onEvent,
            })
          : await runFederation(scenario, {
              outDir,
              learning,
              checkpoints,
              ...(resume ? { resume } : {}),
              ...(opts.uiPace ? { pace: opts.uiPace } : {}),
              ...(replayed ? { schedule: { scheduler: replayed.scheduler, space: replayed.space } } : {}),
              ...onEvent,
            });
      } catch (error) {
        if (removeIfNothingRecorded(outDir, existed)) log(`removed ${outDir}: the run stopped before it recorded anything`);
        throw error;
      } finally {
        stopWatching();
      }
      if (replayed) keepSchedule(replayed, outDir);
      const text = printRunOutcome(result, outDir, clock.kind);
      await live?.finish({ finalStates: result.finalStates, text });
    });
}
