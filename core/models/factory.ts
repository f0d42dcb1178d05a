/**
 * Creating and restoring transformer language models: freshly initialised from a spec, or with
 * the base weights of a pretrained checkpoint (spec.checkpoint, see pretrained/).
 */
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { readCheckpoint } from './checkpoint.js';
import { resolveConfig, resolveModelSpec, type TransformerConfig } from './config.js';
import { TransformerNetwork, type WeightRecord } from './network.js';
import { checkpointHash, checkpointModelSpec, checkpointWeights, describeCheckpoint, openCheckpoint } from './pretrained/open.js';
import { CheckpointSpecSchema, type ModelSpec } from './spec.js';
import { TransformerModel } from './transformer-model.js';
import { ModelVocab, type VocabSource } from './vocab.js';

export interface CreateModelOptions {
  /** A spec, a preset name (`gpt2-tiny`, `gpt2-small`, `gpt2-small-real`, `llama-tiny`,
   * `llama-small`), or a pretrained `{ checkpoint: PATH }` entry. */
  spec: ModelSpec | string | { checkpoint: string; maxSeqLen?: number; vocab?: 'full' | 'compact'; lora?: Partial<ModelSpec['lora']> };
  tokenizer: Tokenizer;
  /** The compact vocabulary; or give `corpus` to build it from the run's texts (a pretrained
   * model with a full vocabulary needs neither). */
  vocab?: ModelVocab;
  corpus?: Iterable<VocabSource>;
  /** Seeds weight init, LoRA init, shuffling and dropout. */
  seed: number;
}

/** A preset, a spec, or a `{ checkpoint }` entry resolved from the checkpoint's header or config. */
function resolveSpec(spec: CreateModelOptions['spec']): ModelSpec {
  if (typeof spec !== 'object' || 'arch' in spec) return resolveModelSpec(spec);
  const entry = CheckpointSpecSchema.safeParse(spec);
  if (!entry.success) throw new Error(`invalid checkpoint model: ${entry.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return checkpointModelSpec(entry.data);
}

export function createModel(options: CreateModelOptions): TransformerModel {
  const spec = resolveSpec(options.spec);
  if (options.vocab && options.corpus) throw new Error('createModel: give a vocab or a corpus, not both');
  if (!Number.isInteger(options.seed)) throw new Error(`createModel: seed must be an integer, got ${options.seed}`);
  if (spec.checkpoint !== undefined) return createPretrained(spec, spec.checkpoint, options);
  if (!options.vocab && !options.corpus) throw new Error('createModel: give either a vocab or a corpus to build one from');
  const vocab = options.vocab ?? ModelVocab.build(options.tokenizer, options.corpus as Iterable<VocabSource>);
  const network = TransformerNetwork.create(resolveConfig(spec, vocab.size), options.seed);
  return new TransformerModel(spec, options.tokenizer, vocab, network, options.seed);
}

/**
 * A pretrained model's vocabulary: every id of its tokenizer (`full`), or the run's (`compact`);
 * its embedding rows are then the checkpoint's rows at those ids.
 */
function pretrainedVocab(spec: ModelSpec, checkpoint: string, vocabRows: number, options: CreateModelOptions): ModelVocab {
  const { tokenizer } = options;
  if (tokenizer.vocabSize > vocabRows) {
    throw new Error(
      `checkpoint ${checkpoint}: its embedding has ${vocabRows} rows, but tokenizer '${tokenizer.name}' has ${tokenizer.vocabSize} tokens: ` +
        `not this model's tokenizer (give the checkpoint's own: its tokenizer.json, or llama2.c's tokenizer .bin)`,
    );
  }
  if (options.vocab) return options.vocab;
  if (spec.vocab === 'compact') {
    if (!options.corpus) throw new Error(`checkpoint ${checkpoint}: a compact vocabulary is built from a corpus; none was given`);
    return ModelVocab.build(tokenizer, options.corpus);
  }
  return ModelVocab.fromTokenizerIds(
    tokenizer,
    Array.from({ length: tokenizer.vocabSize }, (_, id) => id),
  );
}

/** A network with base weights streamed from `checkpoint`, model id m on stored row vocab.toTokenizer(m). */
function pretrainedNetwork(spec: ModelSpec, checkpoint: string, vocab: ModelVocab, adapter: (config: TransformerConfig) => WeightRecord): TransformerNetwork {
  const opened = openCheckpoint(checkpoint);
  try {
    const config = resolveConfig(spec, vocab.size);
    return TransformerNetwork.fromBase(config, checkpointWeights(opened, config, Int32Array.from(vocab.tokenizerIds())), adapter(config));
  } finally {
    opened.source.close();
  }
}

function createPretrained(spec: ModelSpec, checkpoint: string, options: CreateModelOptions): TransformerModel {
  const vocab = pretrainedVocab(spec, checkpoint, describeCheckpoint(checkpoint).vocabRows, options);
  const network = pretrainedNetwork(spec, checkpoint, vocab, (config) => TransformerNetwork.freshAdapter(config, options.seed));
  return new TransformerModel(spec, options.tokenizer, vocab, network, options.seed, 0, { checkpoint });
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
  const pretrained = ck.pretrainedBase;
  if (pretrained) {
    const hash = checkpointHash(pretrained.checkpoint);
    if (hash !== pretrained.sha256) {
      throw new Error(`loadModel ${dir}: its base is checkpoint ${pretrained.checkpoint} with SHA-256 ${pretrained.sha256}, but that path now holds ${hash}`);
    }
    const network = pretrainedNetwork(ck.spec, pretrained.checkpoint, vocab, () => ck.adapter);
    return new TransformerModel(ck.spec, tokenizer, vocab, network, ck.seed, ck.calls, { checkpoint: pretrained.checkpoint });
  }
  if (!ck.base) throw new Error(`loadModel ${dir}: no base.safetensors and no pretrained base named`);
  const network = TransformerNetwork.fromWeights(resolveConfig(ck.spec, vocab.size), ck.base, ck.adapter);
  return new TransformerModel(ck.spec, tokenizer, vocab, network, ck.seed, ck.calls);
}
