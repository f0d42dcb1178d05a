/**
 * The learning stack a local run uses by default: real tokenizers from the registry,
 * TensorFlow.js transformer models with LoRA, and MinED token alignment.
 */
import { TokenAligner } from '../core/alignment/token-aligner.js';
import { initBackend, type BackendName } from '../core/models/backend.js';
import { join } from 'node:path';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import { baseModel } from './base-models.js';
import type { LearningStack } from './federation.js';

export interface DefaultLearningOptions {
  backend?: BackendName;
  log?: (line: string) => void;
  /** Where pretrained base models are cached (default .cache/fedmkt/base-models). */
  cacheDir?: string;
}

export async function defaultLearningStack(options: DefaultLearningOptions = {}): Promise<LearningStack> {
  const backend = await initBackend(options.backend);
  options.log?.(`TensorFlow.js backend: ${backend}`);
  return {
    tokenizer: (name) => loadTokenizer(name),
    createModel: (party, tokenizer, data, seed, worldSeed) =>
      baseModel({
        spec: party.model,
        tokenizer,
        corpus: data.corpus,
        pretrain: party.pretrain,
        // Parties with the same architecture and tokenizer start from the same base model.
        seed: party.pretrain ? worldSeed : seed,
        worldSeed,
        cacheDir: options.cacheDir ?? join('.cache', 'fedmkt', 'base-models'),
        ...(options.log ? { log: options.log } : {}),
      }),
    aligner: () => new TokenAligner({ loadTokenizer }),
  };
}
