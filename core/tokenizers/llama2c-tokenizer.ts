/**
 * llama2.c's tokenizer file (`tokenizer.bin`, `tok512.bin`), encoded and decoded exactly as
 * llama2.c's run.c does:
 *
 *   file      int32 max_token_length, then per id: float32 merge score, int32 byte length, the
 *             piece's raw bytes; SentencePiece's word-start `▁` is stored as a plain space
 *   encode    a dummy-prefix space piece first (non-empty text), then each UTF-8 code point's
 *             piece, or its bytes as byte tokens (id = byte + 3) when it has none; then, while
 *             some adjacent pair's concatenation is a piece, merge the pair whose piece has the
 *             highest score (the leftmost on ties)
 *   decode    a piece after bos loses one leading space; `<0xXX>` pieces are raw bytes
 *
 * Ids 0, 1, 2 are unk, bos and eos, as in LLaMA's SentencePiece model. Pieces are compared as
 * byte strings (one character per byte), so a piece that is not valid UTF-8 still matches.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SpecialTokens, Tokenizer } from './tokenizer.js';

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
/** run.c starts its best merge score here: a pair scoring no higher never merges. */
const NO_MERGE = -1e10;

export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specials: SpecialTokens = { unk: 0, bos: 1, eos: 2 };
  readonly specialIds: readonly number[] = [0, 1, 2];
  readonly wordStartMarker = ' ';
  readonly byteEncoding = 'byte-fallback' as const;
  /** Each piece as a byte string (latin1: one character per byte). */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly idOf = new Map<string, number>();
  /** Each piece as text, UTF-8 decoded. */
  private readonly texts: string[];

  constructor(
    readonly name: string,
    readonly contentHash: string,
    bytes: Uint8Array,
    vocabSize?: number,
  ) {
    const where = `llama2.c tokenizer ${name}`;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 4) throw new Error(`${where}: ${bytes.length} bytes is too short`);
    const pieces: string[] = [];
    const scores: number[] = [];
    let at = 4;
    while (at < bytes.length && (vocabSize === undefined || pieces.length < vocabSize)) {
      if (at + 8 > bytes.length) throw new Error(`${where}: entry ${pieces.length} is cut off at byte ${at}`);
      const score = view.getFloat32(at, true);
      const length = view.getInt32(at + 4, true);
      if (length < 0 || at + 8 + length > bytes.length) throw new Error(`${where}: entry ${pieces.length} has length ${length} past the end of the file`);
      scores.push(score);
      pieces.push(Buffer.from(bytes.subarray(at + 8, at + 8 + length)).toString('latin1'));
      at += 8 + length;
    }
    if (vocabSize !== undefined && pieces.length < vocabSize) throw new Error(`${where}: holds ${pieces.length} pieces, expected ${vocabSize}`);
    if (pieces.length < 3) throw new Error(`${where}: holds ${pieces.length} pieces; unk, bos and eos at least`);
    this.pieces = pieces;
    this.scores = Float32Array.from(scores);
    this.vocabSize = pieces.length;
    pieces.forEach((p, id) => {
      if (!this.idOf.has(p)) this.idOf.set(p, id);
    });
    this.texts = pieces.map((p) => Buffer.from(p, 'latin1').toString('utf8'));
  }

  static fromFile(path: string, name = path): Llama2cTokenizer {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`llama2.c tokenizer ${path}: cannot read (${(e as Error).message})`);
    }
    return new Llama2cTokenizer(name, createHash('sha256').update(bytes).digest('hex'), bytes);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    if (text.length > 0) {
      const prefix = this.idOf.get(' ');
      if (prefix !== undefined) ids.push(prefix);
    }
    const utf8 = Buffer.from(text, 'utf8');
    for (let i = 0; i < utf8.length; ) {
      // a code point: its lead byte and the continuation bytes (10xxxxxx) after it, at most 4
      let end = i + 1;
      while (end < utf8.length && end - i < 4 && ((utf8[end] as number) & 0xc0) === 0x80) end++;
      const id = this.idOf.get(utf8.subarray(i, end).toString('latin1'));
      if (id !== undefined) ids.push(id);
      else for (let b = i; b < end; b++) ids.push((utf8[b] as number) + 3);
      i = end;
    }
    return this.merge(ids);
  }

  /** Merges by best score, leftmost on ties, until no adjacent pair is a piece. */
  private merge(ids: number[]): number[] {
    const merged: number[] = [];
    const score: number[] = [];
    const pair = (i: number): void => {
      const id = i + 1 < ids.length ? this.idOf.get((this.pieces[ids[i] as number] as string) + (this.pieces[ids[i + 1] as number] as string)) : undefined;
      merged[i] = id ?? -1;
      score[i] = id === undefined ? -Infinity : (this.scores[id] as number);
    };
    for (let i = 0; i + 1 < ids.length; i++) pair(i);
    for (;;) {
      let best = -1;
      let bestScore = NO_MERGE;
      for (let i = 0; i + 1 < ids.length; i++) {
        if ((score[i] as number) > bestScore) {
          bestScore = score[i] as number;
          best = i;
        }
      }
      if (best < 0) return ids;
      ids[best] = merged[best] as number;
      ids.splice(best + 1, 1);
      merged.splice(best + 1, 1);
      score.splice(best + 1, 1);
      if (best > 0) pair(best - 1);
      pair(best);
    }
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    ids.forEach((id, i) => {
      const bos = this.specials.bos;
      // run.c starts from bos and prints what follows it
      if (i === 0 && id === bos) return;
      let piece = this.piece(id);
      if (i > 0 && ids[i - 1] === bos && piece.startsWith(' ')) piece = piece.slice(1);
      const byte = BYTE_PIECE.exec(piece);
      if (byte?.[1] !== undefined) bytes.push(parseInt(byte[1], 16));
      else for (let c = 0; c < piece.length; c++) bytes.push(piece.charCodeAt(c));
    });
    return Buffer.from(bytes).toString('utf8');
  }

  idToToken(id: number): string {
    return this.texts[this.check(id)] as string;
  }

  tokenToId(token: string): number | undefined {
    return this.idOf.get(Buffer.from(token, 'utf8').toString('latin1'));
  }

  /** Merge score of a piece. */
  score(id: number): number {
    return this.scores[this.check(id)] as number;
  }

  private piece(id: number): string {
    return this.pieces[this.check(id)] as string;
  }

  private check(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`${this.name}: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return id;
  }
}
