/**
 * A model's compact vocabulary: only the tokenizer ids that occur in the run's corpora plus the
 * tokenizer's specials get an embedding row, so a 50k-token tokenizer costs a few hundred rows.
 *
 * Model id 0 is always the model's unk. It stands for the tokenizer's unk when the tokenizer
 * has one; otherwise it has no tokenizer id (-1) and is never emitted in a top-K list.
 * The other model ids follow ascending tokenizer id, so a vocabulary is fully determined by
 * its id set. PublicLogits and AlignedTeacher always carry tokenizer ids; this class is the
 * only place where the two id spaces meet.
 */
import type { ChoiceItem, TextSample } from './model.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';

/** Anything whose text a model will see; a prompt is encoded alone and followed by its answer
 * (or each choice), exactly as sample encoding does. */
export type VocabSource = string | TextSample | ChoiceItem;

export const MODEL_UNK = 0;

export class ModelVocab {
  /** Tokenizer this vocabulary belongs to (registry name). */
  readonly tokenizer: string;
  /** Tokenizer id of each model id; -1 for a model unk that the tokenizer lacks. */
  private readonly tokenizerIdOf: Int32Array;
  private readonly modelIdOf: Map<number, number>;

  private constructor(tokenizer: string, tokenizerIds: Int32Array) {
    this.tokenizer = tokenizer;
    this.tokenizerIdOf = tokenizerIds;
    this.modelIdOf = new Map();
    tokenizerIds.forEach((tokId, modelId) => {
      if (tokId >= 0) this.modelIdOf.set(tokId, modelId);
    });
  }

  /** Vocabulary over every token id of `corpus` under `tokenizer`, plus its specials. */
  static build(tokenizer: Tokenizer, corpus: Iterable<VocabSource>): ModelVocab {
    const ids = new Set<number>();
    const add = (text: string): void => {
      for (const id of tokenizer.encode(text)) ids.add(id);
    };
    for (const item of corpus) {
      if (typeof item === 'string') add(item);
      else {
        add(item.prompt);
        if ('choices' in item) for (const choice of item.choices) add(item.prompt + choice);
        else add(item.prompt + item.answer);
      }
    }
    return ModelVocab.fromTokenizerIds(tokenizer, ids);
  }

  /** Vocabulary over exactly `ids` plus the tokenizer's specials. */
  static fromTokenizerIds(tokenizer: Tokenizer, ids: Iterable<number>): ModelVocab {
    const { bos, eos, pad, unk } = tokenizer.specials;
    const set = new Set<number>();
    for (const id of [...ids, bos, eos, pad]) {
      if (id === undefined) continue;
      if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
        throw new Error(`ModelVocab: token id ${id} is outside tokenizer '${tokenizer.name}' (size ${tokenizer.vocabSize})`);
      }
      if (id !== unk) set.add(id);
    }
    const sorted = [...set].sort((a, b) => a - b);
    return new ModelVocab(tokenizer.name, Int32Array.from([unk ?? -1, ...sorted]));
  }

  /** Restore from {@link ModelVocab.tokenizerIds} (e.g. a checkpoint's config). */
  static fromSaved(tokenizer: string, tokenizerIds: readonly number[]): ModelVocab {
    if (tokenizerIds.length < 2) throw new Error(`ModelVocab.fromSaved: need at least 2 ids, got ${tokenizerIds.length}`);
    for (let i = 1; i < tokenizerIds.length; i++) {
      const prev = tokenizerIds[i - 1] as number;
      const id = tokenizerIds[i] as number;
      if (!Number.isInteger(id) || id < 0 || (i > 1 && id <= prev)) {
        throw new Error(`ModelVocab.fromSaved: id ${id} at index ${i} is not a strictly ascending tokenizer id`);
      }
    }
    return new ModelVocab(tokenizer, Int32Array.from(tokenizerIds));
  }

  get size(): number {
    return this.tokenizerIdOf.length;
  }

  /** Whether the model unk stands for a real tokenizer id. */
  get unkHasTokenizerId(): boolean {
    return (this.tokenizerIdOf[MODEL_UNK] as number) >= 0;
  }

  /** Model id of a tokenizer id; ids outside the vocabulary map to the model unk. */
  toModel(tokenizerId: number): number {
    return this.modelIdOf.get(tokenizerId) ?? MODEL_UNK;
  }

  /** Whether a tokenizer id has its own model id. */
  has(tokenizerId: number): boolean {
    return this.modelIdOf.has(tokenizerId);
  }

  /** Tokenizer id of a model id (-1 for a model unk the tokenizer lacks). */
  toTokenizer(modelId: number): number {
    const id = this.tokenizerIdOf[modelId];
    if (id === undefined) throw new Error(`ModelVocab: model id ${modelId} is outside the vocabulary (size ${this.size})`);
    return id;
  }

  encode(tokenizerIds: readonly number[]): Int32Array {
    return Int32Array.from(tokenizerIds, (id) => this.toModel(id));
  }

  /** The tokenizer id of every model id, in model order: what a checkpoint stores. */
  tokenizerIds(): number[] {
    return Array.from(this.tokenizerIdOf);
  }
}
