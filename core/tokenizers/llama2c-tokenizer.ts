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

  /**
   * Merges by best score, leftmost on ties, until no adjacent pair is a piece: run.c's loop,
   * which rescans every pair per merge, as a priority queue of candidate pairs over a linked list
   * (a popped pair whose tokens have changed since it was queued is dropped).
   */
  private merge(ids: number[]): number[] {
    const n = ids.length;
    const next = Int32Array.from({ length: n }, (_, i) => i + 1);
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const queue = new PairQueue();
    const offer = (left: number): void => {
      const right = next[left] as number;
      if (left < 0 || right >= n) return;
      const merged = this.idOf.get((this.pieces[ids[left] as number] as string) + (this.pieces[ids[right] as number] as string));
      if (merged !== undefined && (this.scores[merged] as number) > NO_MERGE)
        queue.push(this.scores[merged] as number, left, right, ids[left] as number, ids[right] as number, merged);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    for (let pair = queue.pop(); pair; pair = queue.pop()) {
      const { left, right } = pair;
      if (next[left] !== right || ids[left] !== pair.leftId || ids[right] !== pair.rightId) continue;
      ids[left] = pair.merged;
      ids[right] = -1;
      next[left] = next[right] as number;
      if ((next[right] as number) < n) prev[next[right] as number] = left;
      offer(prev[left] as number);
      offer(left);
    }
    return ids.filter((id) => id >= 0);
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
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw new Error(`${this.name}: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return id;
  }
}

interface Pair {
  score: number;
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  merged: number;
}

/** A binary max-heap of candidate merges: highest score first, then leftmost. */
class PairQueue {
  private readonly heap: Pair[] = [];

  push(score: number, left: number, right: number, leftId: number, rightId: number, merged: number): void {
    const heap = this.heap;
    heap.push({ score, left, right, leftId, rightId, merged });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Pair, heap[parent] as Pair)) break;
      [heap[i], heap[parent]] = [heap[parent] as Pair, heap[i] as Pair];
      i = parent;
    }
  }

  pop(): Pair | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let best = i;
        if (l < heap.length && before(heap[l] as Pair, heap[best] as Pair)) best = l;
        if (r < heap.length && before(heap[r] as Pair, heap[best] as Pair)) best = r;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best] as Pair, heap[i] as Pair];
        i = best;
      }
    }
    return top;
  }
}

function before(a: Pair, b: Pair): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}
