/**
 * Continuing a token sequence with a transformer model, one token at a time: greedy (argmax, as
 * llama2.c's `-t 0`) or sampled from softmax(logits / temperature) with a seeded stream. Each step
 * runs the whole sequence again (the network keeps no key/value cache).
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random.js';
import { INFERENCE } from './network.js';
import type { TransformerModel } from './transformer-model.js';
import { MODEL_UNK } from './vocab.js';

export interface ContinueOptions {
  /** Tokens to add at most. */
  tokens: number;
  /** Argmax at every step; otherwise sampled at `temperature`. */
  greedy: boolean;
  /** Sampling temperature (default 1). */
  temperature?: number;
  /** Seed of the sampling stream (default 0). */
  seed?: number;
  /** Tokenizer ids that end the continuation (not included). */
  stop?: readonly number[];
}

/** The logits of the token after `modelIds` (model vocabulary). */
function nextLogits(model: TransformerModel, modelIds: Int32Array): Float32Array {
  const vocab = model.config.vocabSize;
  const last = tf.tidy(() => tf.slice(model.network.logits(modelIds, { batch: 1, seqLen: modelIds.length }, INFERENCE), [modelIds.length - 1, 0], [1, vocab]));
  const values = last.dataSync() as Float32Array;
  last.dispose();
  return values;
}

function argmax(values: Float32Array, skip: number): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) if (i !== skip && (best < 0 || (values[i] as number) > (values[best] as number))) best = i;
  return best;
}

function sample(values: Float32Array, temperature: number, skip: number, rng: Random): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (i !== skip) max = Math.max(max, values[i] as number);
  const weights = Float64Array.from(values, (v, i) => (i === skip ? 0 : Math.exp(((v as number) - max) / temperature)));
  let u = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i] as number;
    if (u < 0) return i;
  }
  return argmax(values, skip);
}

/**
 * Tokenizer ids that continue `ids` (tokenizer ids, bos included when the model expects one).
 * A model unk that stands for no tokenizer id is never chosen.
 */
export function continueIds(model: TransformerModel, ids: readonly number[], options: ContinueOptions): number[] {
  const { tokens, greedy } = options;
  const temperature = options.temperature ?? 1;
  if (!Number.isInteger(tokens) || tokens < 0) throw new Error(`continueIds: tokens must be a whole number >= 0, got ${tokens}`);
  if (!greedy && !(temperature > 0)) throw new Error(`continueIds: temperature must be positive, got ${temperature}`);
  if (ids.length === 0) throw new Error('continueIds: nothing to continue (no ids)');
  if (ids.length + tokens > model.config.maxSeqLen) {
    throw new Error(`continueIds: ${ids.length} ids and ${tokens} more exceed the model's ${model.config.maxSeqLen} positions`);
  }
  const skip = model.vocab.unkHasTokenizerId ? -1 : MODEL_UNK;
  const rng = new Random(options.seed ?? 0);
  const stop = new Set(options.stop ?? []);
  const sequence = Array.from(model.vocab.encode(ids));
  const out: number[] = [];
  for (let step = 0; step < tokens; step++) {
    const logits = nextLogits(model, Int32Array.from(sequence));
    const next = greedy ? argmax(logits, skip) : sample(logits, temperature, skip, rng);
    const id = model.vocab.toTokenizer(next);
    if (stop.has(id)) break;
    out.push(id);
    sequence.push(next);
  }
  return out;
}
