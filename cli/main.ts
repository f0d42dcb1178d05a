import { Command } from 'commander';
import { ScenarioError } from '../core/scenario/load.js';
import { registerAlignCommand } from './commands/align.js';
import { registerDiagramCommand } from './commands/diagram.js';
import { registerExperimentCommand } from './commands/experiment.js';
import { registerExploreCommand } from './commands/explore.js';
import { registerGenerateCommand } from './commands/generate.js';
import { registerNatsConfigCommand } from './commands/nats-config.js';
import { registerNatsProcessCommands } from './commands/nats-run.js';
import { registerPretrainCommand } from './commands/pretrain.js';
import { registerReportCommand } from './commands/report.js';
import { registerReplayCommand } from './commands/replay.js';
import { registerRunCommand } from './commands/run.js';
import { registerSweepCommand } from './commands/sweep.js';
import { registerValidateCommand } from './commands/validate.js';
import { registerVocabMapCommand } from './commands/vocab-map.js';

const program = new Command();
program.name('fedmkt').description('FedMKT federations as XState actors: run, inspect and stress the protocol').showHelpAfterError();
registerRunCommand(program);
registerValidateCommand(program);
registerReplayCommand(program);
registerSweepCommand(program);
registerExploreCommand(program);
registerExperimentCommand(program);
registerPretrainCommand(program);
registerDiagramCommand(program);
registerReportCommand(program);
registerVocabMapCommand(program);
registerAlignCommand(program);
registerGenerateCommand(program);
registerNatsConfigCommand(program);
registerNatsProcessCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ScenarioError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  // What went wrong in one line; the stack only when asked for (FEDMKT_DEBUG=1).
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`fedmkt: ${message}\n`);
  if (process.env['FEDMKT_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('(FEDMKT_DEBUG=1 shows where)\n');
  process.exit(1);
}
