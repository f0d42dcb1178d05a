import type { Command } from 'commander';
import { join } from 'node:path';
import { baseModel } from '../../actors/base-models.js';
import { federationData } from '../../actors/federation-data.js';
import { initBackend, type BackendName } from '../../core/models/backend.js';
import { loadScenario } from '../../core/scenario/load.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

export function registerPretrainCommand(program: Command): void {
  program
    .command('pretrain')
    .description("pretrain each distinct base model of a scenario (its parties' `pretrain:` settings) and cache the checkpoints")
    .argument('<scenario>', 'scenario YAML file')
    .option('--cache <dir>', 'checkpoint cache', join('.cache', 'fedmkt', 'base-models'))
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .action(async (file: string, opts: { cache: string; backend?: BackendName }) => {
      const scenario = loadScenario(file);
      const backend = await initBackend(opts.backend);
      process.stderr.write(`[fedmkt] TensorFlow.js backend: ${backend}\n`);
      const data = federationData(scenario);
      const parties = [scenario.server, ...scenario.clients];
      for (const party of parties) {
        if (party.model === null) {
          process.stdout.write(`${party.id}: model null (the protocol alone), nothing to pretrain\n`);
          continue;
        }
        if (!party.pretrain) {
          process.stdout.write(`${party.id}: no pretrain settings, starts from random weights\n`);
          continue;
        }
        const tokenizer = await loadTokenizer(party.tokenizer);
        const model = await baseModel({
          spec: party.model,
          tokenizer,
          corpus: data.corpus,
          pretrain: party.pretrain,
          seed: scenario.seed,
          worldSeed: scenario.seed,
          cacheDir: opts.cache,
          log: (line) => process.stdout.write(`${party.id}: ${line}\n`),
        });
        model.dispose();
      }
    });
}
