/**
 * Processes of a federation over NATS: `serve` (the server actor), `join` (one client), and
 * `watch` (an observer of every actor's events on the monitoring subject).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { watchEvents } from '../../actors/monitor.js';
import { startLiveRun } from '../../core/live/index.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import type { BackendName } from '../../core/models/backend.js';
import { credentialLogin, readNatsCredential } from '../../core/nats/access-config.js';
import { loadScenario } from '../../core/scenario/load.js';
import { applyOverrides, checkpointsByDefault, nonNegativeInt } from './run.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import { roundSummaryTable } from '../summary.js';

interface ProcessOptions {
  nats: string;
  creds?: string;
  out?: string;
  resume?: string;
  rounds?: number;
  checkpoints?: boolean;
  backend?: BackendName;
  workers?: string;
}

const log = (line: string) => process.stderr.write(`[fedmkt] ${line}\n`);

async function runParty(file: string | undefined, party: string, opts: ProcessOptions): Promise<void> {
  const { scenario, outDir } = partyTarget(file, party, opts);
  const workers = opts.workers === undefined ? 0 : Number(opts.workers);
  const result = await runOverNats(scenario, {
    servers: opts.nats.split(','),
    parties: [party],
    ...(opts.creds ? { credentialFile: opts.creds } : {}),
    learning: await defaultLearningStack({ ...(opts.backend ? { backend: opts.backend } : {}), workers, log }),
    outDir,
    checkpoints: opts.checkpoints ?? checkpointsByDefault(scenario),
    ...(opts.resume !== undefined ? { resume: true } : {}),
    log,
  });
  process.stdout.write(`${roundSummaryTable(result.recorder.metrics)}\n`);
  process.stdout.write(`${party}: ${result.finalStates[party]}; outputs in ${outDir}\n`);
  if (Object.keys(result.failures).length > 0) {
    for (const [id, why] of Object.entries(result.failures)) process.stdout.write(`  ${id} failed: ${why}\n`);
    process.exitCode = 1;
  }
}

/** The scenario and output folder of `serve FILE` / `join FILE`, or of `--resume DIR` (the actor's own folder). */
function partyTarget(file: string | undefined, party: string, opts: ProcessOptions): { scenario: ReturnType<typeof loadScenario>; outDir: string } {
  const overrides = opts.rounds !== undefined ? { rounds: opts.rounds } : {};
  if (opts.resume === undefined) {
    if (file === undefined) throw new InvalidArgumentError('give a scenario file, or --resume DIR');
    const scenario = loadScenario(file, (doc) => applyOverrides(doc, overrides));
    return { scenario, outDir: opts.out ?? join('runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario.name}-${party}`) };
  }
  const dir = opts.resume;
  if (file !== undefined) throw new InvalidArgumentError(`--resume ${dir}: the scenario is the run's own (${join(dir, 'scenario.yaml')}); give no scenario file`);
  if (opts.out !== undefined) throw new InvalidArgumentError(`--resume ${dir}: a resumed actor writes into its own folder; drop --out`);
  const scenarioFile = join(dir, 'scenario.yaml');
  if (!existsSync(scenarioFile)) throw new InvalidArgumentError(`--resume ${dir}: no scenario.yaml there, so not a run folder`);
  return { scenario: loadScenario(scenarioFile, (doc) => applyOverrides(doc, overrides)), outDir: dir };
}

function processOptions(command: Command): Command {
  return command
    .requiredOption('--nats <url>', 'NATS server URL (comma-separated for a cluster)')
    .option('--creds <file>', 'this actor\'s credential file from `fedmkt nats-config`')
    .option('--out <dir>', 'output folder for this actor\'s events, metrics and timings')
    .option('--resume <dir>', "resume this actor from the round checkpoints in DIR (its earlier --out); every process of the deployment resumes")
    .option('--rounds <n>', 'override the number of rounds (with --resume: go on to round N)', nonNegativeInt)
    .option('--checkpoints', 'write round checkpoints, bigram models too (default: after every round unless a party is a bigram model)')
    .option('--no-checkpoints', 'write no round checkpoints')
    .option('--backend <name>', 'tensorflow | wasm | cpu')
    .option('--workers <n>', 'model worker threads (default 0)');
}

export function registerNatsProcessCommands(program: Command): void {
  processOptions(program.command('serve').description('run the server actor of a scenario over NATS').argument('[scenario]', 'scenario YAML file (none with --resume)')).action(
    (file: string | undefined, opts: ProcessOptions) => runParty(file, 'server', opts),
  );
  processOptions(
    program
      .command('join')
      .description('run one client actor of a scenario over NATS (it reads only its own private data)')
      .argument('[scenario]', 'scenario YAML file (none with --resume)')
      .requiredOption('--client <id>', 'the client id from the scenario'),
  ).action((file: string | undefined, opts: ProcessOptions & { client: string }) => runParty(file, opts.client, opts));
  program
    .command('watch')
    .description("print every actor's events (the records of events.jsonl) from the monitoring subject, as JSON lines")
    .argument('<scenario>', 'scenario YAML file (for the run name)')
    .requiredOption('--nats <url>', 'NATS server URL')
    .option('--creds <file>', 'a credential allowed to subscribe to fedmkt.<run>.events.*')
    .option('--ui', 'also serve the live view of the federation on 127.0.0.1')
    .option('--ui-port <n>', 'port of the live view (implies --ui)')
    .action(async (file: string, opts: { nats: string; creds?: string; ui?: boolean; uiPort?: string }) => {
      const scenario = loadScenario(file);
      const login = opts.creds ? credentialLogin(readNatsCredential(opts.creds)) : undefined;
      const transport = await NatsTransport.connect({
        servers: opts.nats.split(','),
        name: `fedmkt-${scenario.name}-watch`,
        ...(login ? { user: login.user, pass: login.pass, inboxPrefix: login.inboxPrefix } : {}),
      });
      log(`watching fedmkt.${scenario.name}.events.* on ${transport.server} (Ctrl-C to stop)`);
      const live = await startLiveRun(scenario, {
        ui: opts.ui === true || opts.uiPort !== undefined,
        ...(opts.uiPort !== undefined ? { port: Number(opts.uiPort) } : {}),
        clock: 'wall',
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
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      await transport.close();
      await live?.server?.close();
    });
}
