/**
 * Processes of a federation over NATS: `serve` (the server actor), `join` (one client), and
 * `watch` (an observer of every actor's events on the monitoring subject).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { watchEvents } from '../../actors/monitor.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import { parsePopulationPart, type PopulationPart } from '../../actors/population-remote.js';
import { populationPartActor } from '../../core/pseudo-actors.js';
import type { RunResult } from '../../actors/federation.js';
import { startLiveRun } from '../../apps/live/index.js';
import type { BackendName } from '../../core/models/backend.js';
import { credentialLogin, readNatsCredential } from '../../core/nats/access-config.js';
import { loadScenario } from '../../core/scenario/load.js';
import { NatsTransport, type UploadAckMode } from '../../core/transport/nats-transport.js';
import { exitOnInterrupt } from '../interrupt.js';
import { backendOption, nonNegativeInt, positiveInt, positiveNumber } from '../options.js';
import { log, progressReporter } from '../progress.js';
import { removeIfNothingRecorded, runTarget, type RunTarget } from '../run-target.js';
import { roundSummaryTable } from '../summary.js';
import { checkpointsByDefault } from './run.js';

interface ProcessOptions {
  nats: string;
  creds?: string;
  uploads: UploadAckMode;
  out?: string;
  resume?: string;
  restart?: string;
  rounds?: number;
  checkpoints?: boolean;
  backend?: BackendName;
  workers: number;
  quiet?: boolean;
}

/** `--restart DIR`: the killed process's own scenario and folder. */
function restartTarget(file: string | undefined, opts: ProcessOptions, dir: string): RunTarget {
  const refuse = (why: string) => new InvalidArgumentError(`--restart ${dir}: ${why}`);
  if (opts.resume !== undefined) throw refuse('--resume starts every process again from round checkpoints; --restart brings back one process; give one');
  if (file !== undefined) throw refuse(`the scenario is the run's own (${join(dir, 'scenario.yaml')}); give no scenario file`);
  if (opts.out !== undefined || opts.rounds !== undefined) throw refuse('the process goes on in its own folder with its own run; drop --out and --rounds');
  if (!existsSync(join(dir, 'scenario.yaml'))) throw refuse('no scenario.yaml there, so not a run folder');
  return { scenario: loadScenario(join(dir, 'scenario.yaml'), { onNote: log }), outDir: dir, resuming: false };
}

async function runParty(
  file: string | undefined,
  party: string,
  opts: ProcessOptions,
  command: string,
  /** A population split over processes: this one's part (a hosting process) or none (the server's). */
  population?: PopulationPart | { parts: number; timeoutMs: number },
): Promise<void> {
  const { scenario, outDir, resuming } = opts.restart !== undefined ? restartTarget(file, opts, opts.restart) : runTarget(file, opts, log, party);
  if (scenario.population && command === 'serve' && !population)
    throw new InvalidArgumentError(
      `scenario ${scenario.name} describes a population: say how many processes host it (serve --population-parts N, each started with join --population-part K/N)`,
    );
  if (population && !scenario.population) throw new InvalidArgumentError(`--population-part(s): scenario ${scenario.name} lists its clients; join --client ID`);
  if (opts.restart !== undefined && scenario.faults.persist !== 'disk') {
    throw new InvalidArgumentError(
      `--restart ${opts.restart}: the run persisted no actor state (its scenario needs faults.persist: disk); use --resume to start every process again from round checkpoints`,
    );
  }
  const credential = opts.creds ? readNatsCredential(opts.creds) : undefined;
  if (credential && credential.actor !== party)
    throw new InvalidArgumentError(`--creds ${opts.creds}: the credential is ${credential.actor}'s; this process runs ${party}`);
  const clock = { kind: 'wall' as const, origin: Date.now() };
  const checkpoints = opts.checkpoints ?? checkpointsByDefault(scenario);
  const learning = await defaultLearningStack({ ...(opts.backend ? { backend: opts.backend } : {}), workers: opts.workers, log });
  const existed = existsSync(outDir);
  const resumeCommand = `npx fedmkt ${command} --resume ${outDir}${party === 'server' ? '' : ` --client ${party}`} --nats ${opts.nats}${opts.creds ? ` --creds ${opts.creds}` : ''}${opts.uploads === 'jetstream' ? ' --uploads jetstream' : ''}`;
  const stopWatching = exitOnInterrupt({ outDir, actors: [party], checkpoints, resumeCommand });
  let result: RunResult;
  try {
    const hosting = population && 'part' in population;
    result = await runOverNats(scenario, {
      servers: opts.nats.split(','),
      parties: hosting ? [] : [party],
      ...(population ? { population } : {}),
      ...(opts.creds ? { credentialFile: opts.creds } : {}),
      uploads: opts.uploads,
      learning,
      outDir,
      checkpoints,
      ...(resuming ? { resume: true } : {}),
      ...(opts.restart !== undefined ? { restart: true } : {}),
      log,
      ...(opts.quiet ? {} : { onEvent: progressReporter([party], clock) }),
    });
  } catch (error) {
    if (removeIfNothingRecorded(outDir, existed)) log(`removed ${outDir}: the process stopped before it recorded anything`);
    throw error;
  } finally {
    stopWatching();
  }
  process.stdout.write(`${roundSummaryTable(result.recorder.metrics, clock.kind)}\n`);
  process.stdout.write(`${party}: ${result.finalStates[party] ?? 'done'}; outputs in ${outDir}\n`);
  if (Object.keys(result.failures).length > 0) {
    for (const [id, why] of Object.entries(result.failures)) process.stdout.write(`  ${id} failed: ${why}\n`);
    process.exitCode = 1;
  }
}

function populationPart(text: string): PopulationPart {
  try {
    return parsePopulationPart(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function processOptions(command: Command): Command {
  return command
    .requiredOption('--nats <url>', 'NATS server URL (comma-separated for a cluster)')
    .option('--creds <file>', "this actor's credential file from `fedmkt nats-config`")
    .addOption(
      new Option(
        '--uploads <mode>',
        'how uploads travel: request-reply (core NATS), or jetstream (durable; the server must run JetStream); the same in every process',
      )
        .choices(['request-reply', 'jetstream'])
        .default('request-reply'),
    )
    .option('--out <dir>', "output folder for this actor's events, metrics and timings")
    .option('--resume <dir>', 'resume this actor from the round checkpoints in DIR (its earlier --out); every process of the deployment resumes')
    .option(
      '--restart <dir>',
      'bring this actor back where its killed process left it, from the state persisted in DIR (faults.persist: disk); the other processes go on',
    )
    .option('--rounds <n>', 'override the number of rounds (with --resume: go on to round N)', positiveInt)
    .option('--drop-late-faults', "with --rounds shorter than the scenario's fault script: leave out the scripted faults after the last round")
    .option('--checkpoints', 'write round checkpoints, bigram models too (default: after every round unless a party is a bigram model)')
    .option('--no-checkpoints', 'write no round checkpoints')
    .addOption(backendOption())
    .option('--workers <n>', 'model worker threads', nonNegativeInt, 0)
    .option('--quiet', 'no live progress');
}

export function registerNatsProcessCommands(program: Command): void {
  processOptions(
    program
      .command('serve')
      .description('run the server actor of a scenario over NATS')
      .argument('[scenario]', 'scenario YAML file (none with --resume)')
      .option('--population-parts <n>', "a population's clients are hosted by N processes (join --population-part K/N)", positiveInt)
      .option('--population-timeout <s>', 'seconds to wait for a hosting process to answer before doing without its clients that round', positiveNumber, 30),
  ).action((file: string | undefined, opts: ProcessOptions & { populationParts?: number; populationTimeout: number }) =>
    runParty(
      file,
      'server',
      opts,
      'serve',
      opts.populationParts !== undefined ? { parts: opts.populationParts, timeoutMs: opts.populationTimeout * 1000 } : undefined,
    ),
  );
  processOptions(
    program
      .command('join')
      .description("run one client actor of a scenario over NATS (it reads only its own private data), or part of a population's clients")
      .argument('[scenario]', 'scenario YAML file (none with --resume)')
      .option('--client <id>', 'the client id from the scenario')
      .option('--population-part <K/N>', 'host the clients of the population whose index is K mod N, brought up as the server selects them', populationPart),
  ).action((file: string | undefined, opts: ProcessOptions & { client?: string; populationPart?: PopulationPart }) => {
    if ((opts.client === undefined) === (opts.populationPart === undefined))
      throw new InvalidArgumentError('give --client ID (a listed client) or --population-part K/N (part of a population), one of them');
    if (opts.populationPart) return runParty(file, populationPartActor(opts.populationPart.part), opts, 'join', opts.populationPart);
    return runParty(file, opts.client!, opts, 'join');
  });
  program
    .command('watch')
    .description("print every actor's events (the records of events.jsonl) from the monitoring subject, as JSON lines")
    .argument('<scenario>', 'scenario YAML file (for the run name)')
    .requiredOption('--nats <url>', 'NATS server URL')
    .option('--creds <file>', 'a credential allowed to subscribe to fedmkt.<run>.events.*')
    .option('--ui', 'also serve the live view of the federation on 127.0.0.1')
    .option('--ui-port <n>', 'port of the live view (implies --ui)', nonNegativeInt)
    .action(async (file: string, opts: { nats: string; creds?: string; ui?: boolean; uiPort?: number }) => {
      const scenario = loadScenario(file, { filesHere: false });
      const login = opts.creds ? credentialLogin(readNatsCredential(opts.creds)) : undefined;
      const transport = await NatsTransport.connect({
        servers: opts.nats.split(','),
        name: `fedmkt-${scenario.name}-watch`,
        ...(login ? { user: login.user, nkeySeed: login.nkeySeed, inboxPrefix: login.inboxPrefix } : {}),
      });
      log(`watching fedmkt.${scenario.name}.events.* on ${transport.server} (Ctrl-C to stop)`);
      const live = await startLiveRun(scenario, {
        ui: opts.ui === true || opts.uiPort !== undefined,
        ...(opts.uiPort !== undefined ? { port: opts.uiPort } : {}),
        // Times since the watcher started: it may join a run under way.
        clock: { kind: 'wall', origin: Date.now() },
        log,
      });
      watchEvents(
        transport,
        scenario.name,
        (event) => {
          process.stdout.write(`${JSON.stringify(event)}\n`);
          live?.onEvent(event);
        },
        (why) => log(why),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      // A watcher has nothing to finish: it gives the connection a moment to close, then ends,
      // even when the server is gone (a connection still reconnecting would keep it alive).
      await Promise.race([Promise.all([transport.close(), live?.server?.close()]), new Promise((r) => setTimeout(r, 2000).unref())]);
      process.exit(0);
    });
}
