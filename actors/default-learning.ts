/**
 * The learning stack a local run uses by default: real tokenizers from the registry,
 * TensorFlow.js transformer models with LoRA, and MinED token alignment.
 */
import { identityTeacher, type TokenAlignment } from '../core/alignment/aligned-teacher.js';
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
    aligner: () => sameTokenizerAlignment,
  };
}

const sameTokenizerAlignment: TokenAlignment = {
  async align(sender, receiver) {
    if (sender.tokenizer !== receiver.tokenizer)
      throw new Error(`alignment between different tokenizers (${sender.tokenizer} -> ${receiver.tokenizer}) is not wired yet`);
    const teacher = identityTeacher(sender);
    const positions = teacher.source.length;
    return { teacher, stats: { positions, teacherPositions: positions, fallbackPositions: 0 } };
  },
};
