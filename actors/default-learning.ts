/**
 * The learning stack a local run uses by default: real tokenizers from the registry,
 * TensorFlow.js transformer models with LoRA (in worker threads when asked), and MinED
 * token alignment.
 */
import { join } from 'node:path';
import { TokenAligner } from '../core/alignment/token-aligner.js';
import { initBackend, type BackendName } from '../core/models/backend.js';
import { BigramModel, isBigramCheckpoint } from '../core/models/bigram.js';
import { bigramModelFor } from './bigram-learning.js';
import { isProtocolOnlyCheckpoint, ProtocolOnlyModel } from '../core/models/protocol-only.js';
import { ModelWorkerPool, RemoteModel } from '../core/models/worker-pool.js';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import { baseModel, inProcessModels, readCorpusFile, type ModelMaker } from './base-models.js';
import type { LearningStack } from './federation.js';

export interface DefaultLearningOptions {
  backend?: BackendName;
  log?: (line: string) => void;
  /** Where pretrained base models are cached (default .cache/fedmkt/base-models). */
  cacheDir?: string;
  /**
   * Worker threads for model work (0: in this thread). With workers, training runs off the
   * event loop: deadlines, deliveries and progress go on while models compute.
   */
  workers?: number;
}

export async function defaultLearningStack(options: DefaultLearningOptions = {}): Promise<LearningStack> {
  const backend = await initBackend(options.backend);
  const workers = options.workers ?? 0;
  options.log?.(`TensorFlow.js backend: ${backend}${workers > 0 ? `, ${workers} model worker thread${workers > 1 ? 's' : ''}` : ''}`);
  const pool = workers > 0 ? new ModelWorkerPool({ size: workers, backend: backend as BackendName }) : null;
  const maker: ModelMaker = pool ? pooledModels(pool) : inProcessModels;
  return {
    tokenizer: (name) => loadTokenizer(name),
    createModel: async (party, tokenizer, data, seed, worldSeed) => {
      const spec = party.model;
      // `model: null`: no learning, the protocol alone (core/models/protocol-only.ts).
      if (spec === null) return new ProtocolOnlyModel(tokenizer, seed);
      // `model: bigram`: a plain typed-array bigram LM (core/models/bigram.ts), for protocol-scale runs.
      return (
        bigramModelFor(party, tokenizer, data.corpus, seed, worldSeed, readCorpusFile) ??
        baseModel(
          {
            spec,
            tokenizer,
            corpus: data.corpus,
            pretrain: party.pretrain,
            // Parties with the same architecture and tokenizer start from the same base model.
            seed: party.pretrain ? worldSeed : seed,
            worldSeed,
            cacheDir: options.cacheDir ?? join('.cache', 'fedmkt', 'base-models'),
            ...(options.log ? { log: options.log } : {}),
          },
          maker,
        )
      );
    },
    aligner: () => new TokenAligner({ loadTokenizer }),
    restoreModel: async (dir, tokenizer) => {
      if (isProtocolOnlyCheckpoint(dir)) return ProtocolOnlyModel.load(dir, tokenizer);
      return (await isBigramCheckpoint(dir)) ? BigramModel.load(dir, tokenizer) : maker.load(dir, tokenizer);
    },
    // Each worker runs its models' requests one at a time; nothing to serialise here.
    computeQueue: pool ? null : undefined,
    close: async () => {
      await pool?.close();
    },
  };
}

function pooledModels(pool: ModelWorkerPool): ModelMaker {
  return {
    create: (spec, tokenizer, corpus, seed) => pool.createModel({ spec, tokenizer: { registry: tokenizer.name }, corpus: [...corpus], seed }),
    load: (dir, tokenizer) => pool.loadModel(dir, { registry: tokenizer.name }),
    pretrain: (model, texts, options) => {
      if (!(model instanceof RemoteModel)) throw new Error('pretrain: not a worker-thread model');
      return model.pretrain(texts, options);
    },
  };
}
