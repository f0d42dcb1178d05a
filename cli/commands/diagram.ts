/**
 * `fedmkt diagram --machine server|client --format mermaid|svg|json [--scenario FILE] [--out FILE]`:
 * draws a machine definition. Delays are shown in ms as the scenario sets them (the schema's
 * defaults without --scenario).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { anyMachine, MACHINE_NAMES, type AnyMachineName } from '../../actors/machine-inputs.js';
import { loadScenario } from '../../core/scenario/load.js';
import type { Scenario } from '../../core/scenario/schema.js';
import { drawMachine, type DiagramFormat } from '../../apps/diagram/index.js';

export function registerDiagramCommand(program: Command): void {
  program
    .command('diagram')
    .description('draw the client or server state machine from its definition (states, transitions, guards, deadlines, failure paths)')
    .addOption(new Option('--machine <name>', 'which machine').choices([...MACHINE_NAMES]).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'svg', 'json']).default('mermaid'))
    .option('--scenario <file>', 'resolve deadline delays in ms from this scenario (default: the schema defaults)')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((opts: { machine: AnyMachineName; format: DiagramFormat; scenario?: string; out?: string }, command: Command) => {
      let scenario: Scenario | undefined;
      try {
        scenario = opts.scenario ? loadScenario(opts.scenario) : undefined;
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 1 });
      }
      const { machine, input } = anyMachine(opts.machine, scenario);
      const text = drawMachine(machine, opts.format, { input });
      if (opts.out) {
        writeFileSync(opts.out, text);
        process.stderr.write(`wrote ${opts.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
