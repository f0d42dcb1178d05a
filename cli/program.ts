/**
 * The `fedmkt` command line: every command, and how a failure becomes an exit status (2 for a
 * usage error or bad input, 1 otherwise). cli/main.ts runs it for the process.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
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

/** Exit status of a usage error: a bad flag, argument or input file. */
const USAGE = 2;

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Every command; `printed` is told when commander has printed an error itself. */
function buildProgram(printed: () => void): Command {
  const program = new Command();
  program
    .name('fedmkt')
    .description('FedMKT federations as XState actors: run, inspect and stress the protocol')
    .version(version, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => {
        printed();
        write(text);
      },
    });
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
  // A usage error is one line and where to read more, not the whole help.
  program.showHelpAfterError('(fedmkt --help lists the commands)');
  for (const command of program.commands) command.showHelpAfterError(`(fedmkt ${command.name()} --help shows its usage)`);
  return program;
}

/**
 * Run `fedmkt` with `argv` (as process.argv: node, script, arguments). Resolves with the exit
 * status of a failure, or with null when the command went through (it may have set
 * process.exitCode, and may leave work running, such as a live view waiting for Ctrl-C).
 */
export async function main(argv: readonly string[]): Promise<number | null> {
  let printedByCommander = false;
  const program = buildProgram(() => (printedByCommander = true));
  try {
    await program.parseAsync([...argv]);
    return null;
  } catch (error) {
    if (error instanceof ScenarioError) {
      process.stderr.write(`${error.message}\n`);
      return USAGE;
    }
    if (error instanceof InvalidArgumentError && !printedByCommander) {
      // Thrown by an action (commander prints those it finds itself).
      const name = program.commands.find((c) => argv.slice(2).includes(c.name()))?.name();
      process.stderr.write(`fedmkt${name ? ` ${name}` : ''}: ${error.message}\n(fedmkt ${name ? `${name} ` : ''}--help shows its usage)\n`);
      return USAGE;
    }
    if (error instanceof CommanderError) {
      // Already printed by commander: help, version, or a usage error with its one line.
      return ['commander.helpDisplayed', 'commander.version'].includes(error.code) ? error.exitCode : USAGE;
    }
    // What went wrong in one line; the stack only when asked for (FEDMKT_DEBUG=1).
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`fedmkt: ${message}\n`);
    if (process.env.FEDMKT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    else process.stderr.write('(FEDMKT_DEBUG=1 shows where)\n');
    return 1;
  }
}
