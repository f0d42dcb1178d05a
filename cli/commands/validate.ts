import type { Command } from 'commander';
import { loadScenario } from '../../core/scenario/load.js';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check scenario files against the schema, reporting every problem with its place')
    .argument('<files...>', 'scenario YAML files')
    .action((files: string[]) => {
      for (const file of files) {
        const s = loadScenario(file);
        process.stdout.write(`${file}: ok (${s.name}: server + ${s.clients.length} clients, ${s.rounds} rounds)\n`);
      }
    });
}
