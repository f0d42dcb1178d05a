import { byteFallbackValue, byteLevelToBytes, ESCAPED_BYTE_BASE, utf8CodePointsEscaped } from './bytes.js';
import type { ByteEncoding, SpecialTokens, Tokenizer } from './tokenizer.js';

/**
 * A tokenizer-neutral spelling of every vocabulary entry, so that token alignment compares like
 * with like: the word-start marker (`Ġ`, `▁`) becomes a leading space, GPT-2 byte-level
 * characters and SentencePiece `<0xNN>` tokens become the bytes they stand for (`Ċ` and `<0x0A>`
 * are both "\n"), and special tokens carry their roles (bos, eos, pad, unk).
 */

export const TokenKind = {
  Text: 0,
  /** A SentencePiece byte-fallback token `<0xNN>`. */
  Byte: 1,
  /** An added token marked special; matched by role or content, never by spelling. */
  Special: 2,
} as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

/** Role bits of a special token; GPT-2's `<|endoftext|>` is bos, eos and unk at once. */
export const SpecialRole = { bos: 1, eos: 2, pad: 4, unk: 8 } as const;
export type SpecialRoleName = keyof typeof SpecialRole;
const SPECIAL_ROLE_NAMES: readonly SpecialRoleName[] = ['bos', 'eos', 'pad', 'unk'];

const SPACE = 0x20;

export class NormalisedVocab {
  readonly size: number;
  readonly kind: Uint8Array;
  /** {@link SpecialRole} bits per id. */
  readonly roles: Uint8Array;
  /** Canonical code points of all tokens, concatenated; token `id` owns `[offsets[id], offsets[id + 1])`. */
  readonly codePoints: Int32Array;
  readonly offsets: Int32Array;
  /** 1 where the canonical spelling starts with the word-start space (a marker in the raw token). */
  readonly wordStart: Uint8Array;
  /** Lowest id of each role-less special's content, for matching specials across vocabularies. */
  readonly specialByContent: ReadonlyMap<string, number>;

  constructor(readonly tokenizer: Tokenizer) {
    const size = tokenizer.vocabSize;
    this.size = size;
    this.kind = new Uint8Array(size);
    this.roles = new Uint8Array(size);
    this.wordStart = new Uint8Array(size);
    this.offsets = new Int32Array(size + 1);
    const byteEncoding = resolveByteEncoding(tokenizer);
    const specialIds = new Set(tokenizer.specialIds ?? roleIds(tokenizer.specials));
    for (const name of SPECIAL_ROLE_NAMES) {
      const id = tokenizer.specials[name];
      if (id === undefined) continue;
      checkId(tokenizer, id, `specials.${name}`);
      specialIds.add(id);
      this.roles[id] = (this.roles[id] as number) | SpecialRole[name];
    }
    const specialByContent = new Map<string, number>();
    const spellings: number[][] = new Array<number[]>(size);
    let total = 0;
    for (let id = 0; id < size; id++) {
      const token = tokenizer.idToToken(id);
      let spelling: number[];
      if (specialIds.has(id)) {
        this.kind[id] = TokenKind.Special;
        spelling = codePointsOf(token);
        if (!specialByContent.has(token)) specialByContent.set(token, id);
      } else {
        const byte = byteEncoding === 'byte-level' ? undefined : byteFallbackValue(token);
        if (byte !== undefined) {
          this.kind[id] = TokenKind.Byte;
          spelling = [byte < 0x80 ? byte : ESCAPED_BYTE_BASE + byte];
        } else {
          spelling = canonicalSpelling(token, byteEncoding, tokenizer.wordStartMarker);
        }
        if (spelling[0] === SPACE) this.wordStart[id] = 1;
      }
      spellings[id] = spelling;
      total += spelling.length;
    }
    this.specialByContent = specialByContent;
    this.codePoints = new Int32Array(total);
    let at = 0;
    for (let id = 0; id < size; id++) {
      const spelling = spellings[id] as number[];
      this.offsets[id] = at;
      this.codePoints.set(spelling, at);
      at += spelling.length;
    }
    this.offsets[size] = at;
  }

  /** The canonical spelling of `id` as a string (bytes outside UTF-8 as U+DC80..U+DCFF). */
  spelling(id: number): string {
    return String.fromCodePoint(...this.codePoints.subarray(this.offsets[id], this.offsets[id + 1]));
  }

  length(id: number): number {
    return (this.offsets[id + 1] as number) - (this.offsets[id] as number);
  }

  /** Start of the token's body: its spelling without the word-start space. */
  bodyStart(id: number): number {
    return (this.offsets[id] as number) + (this.wordStart[id] as number);
  }

  isSpecial(id: number): boolean {
    return this.kind[id] === TokenKind.Special;
  }
}

const views = new WeakMap<Tokenizer, NormalisedVocab>();

/** The normalised view of a tokenizer, built once per tokenizer object. */
export function normalisedVocab(tokenizer: Tokenizer): NormalisedVocab {
  let view = views.get(tokenizer);
  if (!view) {
    view = new NormalisedVocab(tokenizer);
    views.set(tokenizer, view);
  }
  return view;
}

function resolveByteEncoding(tokenizer: Tokenizer): ByteEncoding {
  if (tokenizer.byteEncoding) return tokenizer.byteEncoding;
  return tokenizer.wordStartMarker === 'Ġ' ? 'byte-level' : 'byte-fallback';
}

function roleIds(specials: SpecialTokens): number[] {
  return SPECIAL_ROLE_NAMES.flatMap((name) => (specials[name] === undefined ? [] : [specials[name]]));
}

function checkId(tokenizer: Tokenizer, id: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
    throw new Error(`Tokenizer "${tokenizer.name}": ${what} = ${id} is outside the vocabulary [0, ${tokenizer.vocabSize})`);
  }
}

function codePointsOf(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0) as number);
  return out;
}

/** Text token -> canonical code points: bytes decoded, the marker spelled as a space. */
function canonicalSpelling(token: string, byteEncoding: ByteEncoding, marker: string): number[] {
  if (byteEncoding === 'byte-level') {
    const bytes = byteLevelToBytes(token);
    // Added non-special tokens (Qwen's `<think>`) are stored as plain text, not byte-level.
    if (bytes) return utf8CodePointsEscaped(bytes);
  }
  return codePointsOf(marker && marker !== ' ' ? token.replaceAll(marker, ' ') : token);
}
