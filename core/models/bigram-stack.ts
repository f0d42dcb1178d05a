/**
 * Bigram models for scenario parties (`model: bigram` / `bigram-r<rank>`), and a learning stack
 * made only of them (no TF.js): real tokenizers, bigram models, MinED token alignment.
 */
import { TokenAligner } from '../alignment/token-aligner.js';
import type { TokenAlignment } from '../alignment/aligned-teacher.js';
import { builtinPretrainCorpus } from '../data/builtin-task.js';
import type { ClientConfig, ServerConfig } from '../scenario/schema.js';
import { loadTokenizer } from '../tokenizers/registry.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { BigramModel, bigramBaseFor, parseBigramSpec } from './bigram.js';
import type { LanguageModel } from './model.js';
import type { VocabSource } from './vocab.js';

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
export function bigramLearningStack(): {
  tokenizer(name: string): Promise<Tokenizer>;
  createModel(party: Party, tokenizer: Tokenizer, data: { corpus: readonly VocabSource[] }, seed: number, worldSeed: number): Promise<LanguageModel>;
  aligner(): TokenAlignment;
  restoreModel(dir: string, tokenizer: Tokenizer): Promise<LanguageModel>;
} {
  return {
    tokenizer: (name) => loadTokenizer(name),
    createModel: async (party, tokenizer, data, seed, worldSeed) => {
      const model = bigramModelFor(party, tokenizer, data.corpus, seed, worldSeed);
      if (!model) throw new Error(`the bigram learning stack runs bigram models only; ${'id' in party ? party.id : 'server'} has model ${JSON.stringify(party.model)}`);
      return model;
    },
    aligner: () => new TokenAligner({ loadTokenizer }),
    restoreModel: (dir, tokenizer) => BigramModel.load(dir, tokenizer),
  };
}
