/**
 * Creating and restoring transformer language models.
 */
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { readCheckpoint } from './checkpoint.js';
import { resolveConfig, resolveModelSpec } from './config.js';
import { TransformerNetwork } from './network.js';
import type { ModelSpec } from './spec.js';
import { TransformerModel } from './transformer-model.js';
import { ModelVocab, type VocabSource } from './vocab.js';

export interface CreateModelOptions {
  /** A spec, or a preset name (`gpt2-tiny`, `gpt2-small`, `gpt2-small-real`, `llama-tiny`, `llama-small`). */
  spec: ModelSpec | string;
  tokenizer: Tokenizer;
  /** The compact vocabulary; or give `corpus` to build it from the run's texts. */
  vocab?: ModelVocab;
  corpus?: Iterable<VocabSource>;
  /** Seeds weight init, LoRA init, shuffling and dropout. */
  seed: number;
}

export function createModel(options: CreateModelOptions): TransformerModel {
  const spec = resolveModelSpec(options.spec);
  if (!options.vocab && !options.corpus) throw new Error('createModel: give either a vocab or a corpus to build one from');
  if (options.vocab && options.corpus) throw new Error('createModel: give a vocab or a corpus, not both');
  if (!Number.isInteger(options.seed)) throw new Error(`createModel: seed must be an integer, got ${options.seed}`);
  const vocab = options.vocab ?? ModelVocab.build(options.tokenizer, options.corpus as Iterable<VocabSource>);
  const network = TransformerNetwork.create(resolveConfig(spec, vocab.size), options.seed);
  return new TransformerModel(spec, options.tokenizer, vocab, network, options.seed);
}

/** Resume a model written by `save(dir)`; the tokenizer must be the one it was saved with. */
export async function loadModel(dir: string, tokenizer: Tokenizer): Promise<TransformerModel> {
  const ck = await readCheckpoint(dir);
  if (ck.tokenizer.name !== tokenizer.name || ck.tokenizer.contentHash !== tokenizer.contentHash) {
    throw new Error(
      `loadModel ${dir}: saved with tokenizer '${ck.tokenizer.name}' (hash ${ck.tokenizer.contentHash}), ` +
        `given '${tokenizer.name}' (hash ${tokenizer.contentHash})`,
    );
  }
  const vocab = ModelVocab.fromSaved(tokenizer.name, ck.vocab);
  const config = resolveConfig(ck.spec, vocab.size);
  const network = TransformerNetwork.fromWeights(config, ck.base, ck.adapter);
  return new TransformerModel(ck.spec, tokenizer, vocab, network, ck.seed, ck.calls);
}
