/**
 * Bigram models for scenario parties (`model: bigram` / `bigram-r<rank>`), and a learning stack
 * made only of them (no TF.js): real tokenizers, bigram models, MinED token alignment.
 */
import { TokenAligner } from '../core/alignment/token-aligner.js';
import { builtinPretrainCorpus } from '../core/data/builtin-task.js';
import type { ClientConfig, ServerConfig } from '../core/scenario/schema.js';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import type { Tokenizer } from '../core/tokenizers/tokenizer.js';
import { BigramModel } from '../core/models/bigram.js';
import { bigramBaseFor, parseBigramSpec } from '../core/models/bigram-base.js';
import type { VocabSource } from '../core/models/vocab.js';
import type { LearningStack } from './federation.js';

type Party = ServerConfig | ClientConfig;

/** A bigram model for `party`, or null when its model is not a bigram. */
export function bigramModelFor(
  party: Party,
  tokenizer: Tokenizer,
  corpus: readonly VocabSource[],
  seed: number,
  worldSeed: number,
  readCorpus: (file: string) => string[] = () => {
    throw new Error('bigram pretraining from a corpus file needs a corpus reader');
  },
): BigramModel | null {
  const spec = parseBigramSpec(party.model);
  if (!spec) return null;
  const pretrain = party.pretrain;
  let texts: string[] | null = null;
  let key = 'none';
  if (pretrain) {
    const source = (pretrain as { corpus?: string }).corpus ?? 'builtin';
    texts = source === 'builtin' ? builtinPretrainCorpus(worldSeed, { factFraction: pretrain.factFraction }).texts : readCorpus(source);
    key = `${source}/${pretrain.factFraction}/${worldSeed}`;
  }
  return new BigramModel(bigramBaseFor(tokenizer, corpus, texts, key, spec.maxSeqLen), spec, seed);
}

/** The learning stack of protocol-scale runs: every party must be a bigram model. */
export function bigramLearningStack(): LearningStack {
  return {
    tokenizer: (name) => loadTokenizer(name),
    createModel: async (party, tokenizer, data, seed, worldSeed) => {
      const model = bigramModelFor(party, tokenizer, data.corpus, seed, worldSeed);
      if (!model)
        throw new Error(`the bigram learning stack runs bigram models only; ${'id' in party ? party.id : 'server'} has model ${JSON.stringify(party.model)}`);
      return model;
    },
    aligner: () => new TokenAligner({ loadTokenizer }),
    restoreModel: (dir, tokenizer) => BigramModel.load(dir, tokenizer),
  };
}
