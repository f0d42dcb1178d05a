import type { Command } from 'commander';
import { loadScenario, ScenarioError } from '../../core/scenario/load.js';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check scenario files against the schema, reporting every problem with its place')
    .argument('<files...>', 'scenario YAML files')
    .action((files: string[]) => {
      let bad = 0;
      for (const file of files) {
        try {
          const s = loadScenario(file);
          process.stdout.write(`${file}: ok (${s.name}: server + ${s.clients.length} client${s.clients.length === 1 ? '' : 's'}, ${s.rounds} rounds)\n`);
        } catch (error) {
          if (!(error instanceof ScenarioError)) throw error;
          process.stderr.write(`${error.message}\n`);
          bad++;
        }
      }
      if (bad > 0) process.exitCode = 2;
    });
}
