import type { Command } from 'commander';
import { join } from 'node:path';
import { baseModel } from '../../actors/base-models.js';
import { loadFederationData } from '../../actors/federation-data.js';
import { initBackend, type BackendName } from '../../core/models/backend.js';
import { parseBigramSpec } from '../../core/models/bigram-base.js';
import { loadScenario } from '../../core/scenario/load.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';
import { backendOption } from '../options.js';
import { log } from '../progress.js';

export function registerPretrainCommand(program: Command): void {
  program
    .command('pretrain')
    .description("pretrain each distinct base model of a scenario (its parties' `pretrain:` settings) and cache the checkpoints")
    .argument('<scenario>', 'scenario YAML file')
    .option('--cache <dir>', 'checkpoint cache', join('.cache', 'fedmkt', 'base-models'))
    .addOption(backendOption())
    .action(async (file: string, opts: { cache: string; backend?: BackendName }) => {
      const scenario = loadScenario(file);
      const backend = await initBackend(opts.backend);
      log(`TensorFlow.js backend: ${backend}`);
      const data = await loadFederationData(scenario);
      for (const party of [scenario.server, ...scenario.clients]) {
        if (party.model === null) {
          log(`${party.id}: model null (the protocol alone), nothing to pretrain`);
          continue;
        }
        if (!party.pretrain) {
          log(`${party.id}: no pretrain settings, starts from random weights`);
          continue;
        }
        if (parseBigramSpec(party.model)) {
          log(`${party.id}: a bigram model counts its corpus when the run starts; nothing to cache`);
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
          log: (line) => log(`${party.id}: ${line}`),
        });
        model.dispose();
      }
    });
}
