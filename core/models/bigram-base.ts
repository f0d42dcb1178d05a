/**
 * What every bigram model (bigram.ts) of one tokenizer and corpus shares: the compact vocabulary,
 * the base table of pretraining bigram log-probabilities, and the samples' encodings.
 */
import { hexOf, scanMessage } from '../protocol/message-scan.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { ChoiceItem, TextSample } from './model.js';
import { encodeSample } from './sample-encoding.js';
import { ModelVocab, type VocabSource } from './vocab.js';

export interface BigramSpec {
  rank: number;
  alpha: number;
  maxSeqLen: number;
}

/** `bigram` (rank 4) or `bigram-r<rank>`; null for any other model field. */
export function parseBigramSpec(model: unknown): BigramSpec | null {
  if (typeof model !== 'string') return null;
  const m = /^bigram(?:-r(\d+))?$/.exec(model);
  if (!m) return null;
  const rank = m[1] ? Number(m[1]) : 4;
  if (!(rank >= 1 && rank <= 256)) throw new Error(`model "${model}": rank must be between 1 and 256`);
  return { rank, alpha: 2 * rank, maxSeqLen: 64 };
}

export interface Encoded {
  /** Tokenizer ids. */
  ids: number[];
  /** Model ids. */
  model: Int32Array;
  answerStart: number;
}

/** What every bigram model of one tokenizer and corpus shares: vocabulary, base table, encodings. */
export class BigramBase {
  readonly size: number;
  private readonly samples = new WeakMap<object, Encoded>();
  private readonly choices = new WeakMap<object, Encoded[]>();

  constructor(
    readonly tokenizer: Tokenizer,
    readonly vocab: ModelVocab,
    /** V x V logits (log-probabilities), row = previous model id. */
    readonly logits: Float32Array,
    readonly maxSeqLen: number,
  ) {
    this.size = vocab.size;
  }

  /** Build from the run's texts (vocabulary) and an optional pretraining corpus (bigram counts, add-k). */
  static build(tokenizer: Tokenizer, corpus: readonly VocabSource[], pretrainTexts: readonly string[] | null, maxSeqLen = 64, k = 0.1): BigramBase {
    const vocab = ModelVocab.build(tokenizer, [...corpus, ...(pretrainTexts ?? [])]);
    const v = vocab.size;
    const logits = new Float32Array(v * v);
    if (pretrainTexts && pretrainTexts.length > 0) {
      const counts = new Float64Array(v * v);
      const bos = tokenizer.specials.bos;
      for (const text of pretrainTexts) {
        const ids = vocab.encode([...(bos === undefined ? [] : [bos]), ...tokenizer.encode(text)]);
        for (let t = 0; t + 1 < ids.length; t++) counts[(ids[t] as number) * v + (ids[t + 1] as number)]! += 1;
      }
      for (let p = 0; p < v; p++) {
        let total = 0;
        for (let n = 0; n < v; n++) total += counts[p * v + n] as number;
        const denominator = Math.log(total + k * v);
        for (let n = 0; n < v; n++) logits[p * v + n] = Math.log((counts[p * v + n] as number) + k) - denominator;
      }
    }
    return new BigramBase(tokenizer, vocab, logits, maxSeqLen);
  }

  encode(sample: TextSample): Encoded {
    let e = this.samples.get(sample);
    if (!e) {
      const s = encodeSample(this.tokenizer, sample, this.maxSeqLen);
      e = { ids: s.ids, model: this.vocab.encode(s.ids), answerStart: s.answerStart };
      this.samples.set(sample, e);
    }
    return e;
  }

  encodeChoices(item: ChoiceItem): Encoded[] {
    let list = this.choices.get(item);
    if (!list) {
      list = item.choices.map((choice) => {
        const s = encodeSample(this.tokenizer, { prompt: item.prompt, answer: choice }, this.maxSeqLen);
        return { ids: s.ids, model: this.vocab.encode(s.ids), answerStart: s.answerStart };
      });
      this.choices.set(item, list);
    }
    return list;
  }
}

/** Restored bases by content, so that models restored from one run share one table, as they did when made. */
const restoredBases = new Map<string, WeakRef<BigramBase>>();

export function restoredBase(tokenizer: Tokenizer, vocab: ModelVocab, logits: Float32Array, maxSeqLen: number): BigramBase {
  const bytes = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength);
  const key = `${tokenizer.contentHash}/${vocab.tokenizerIds().join(',')}/${maxSeqLen}/${hexOf(scanMessage(bytes, bytes.length).checksum)}`;
  const known = restoredBases.get(key)?.deref();
  if (known && Buffer.from(known.logits.buffer, known.logits.byteOffset, known.logits.byteLength).equals(bytes)) return known;
  const base = new BigramBase(tokenizer, vocab, logits, maxSeqLen);
  restoredBases.set(key, new WeakRef(base));
  return base;
}

const bases = new WeakMap<object, Map<string, BigramBase>>();

/** The shared base of a run's bigram models: one per (run corpus, tokenizer, pretraining texts). */
export function bigramBaseFor(
  tokenizer: Tokenizer,
  corpus: readonly VocabSource[],
  pretrainTexts: readonly string[] | null,
  pretrainKey: string,
  maxSeqLen = 64,
): BigramBase {
  let byKey = bases.get(corpus);
  if (!byKey) bases.set(corpus, (byKey = new Map()));
  const key = `${tokenizer.contentHash}\u0000${pretrainKey}\u0000${maxSeqLen}`;
  let base = byKey.get(key);
  if (!base) byKey.set(key, (base = BigramBase.build(tokenizer, corpus, pretrainTexts, maxSeqLen)));
  return base;
}
