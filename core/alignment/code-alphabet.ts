import type { NormalisedVocab } from '../tokenizers/normalise.js';

/**
 * The code points of one or more vocabularies renumbered densely (most frequent first), so
 * bit-parallel distance tables are small arrays and the 64 most frequent symbols get their own
 * signature bit.
 */
export class CodeAlphabet {
  readonly size: number;
  private readonly dense: Map<number, number>;

  constructor(vocabs: readonly NormalisedVocab[]) {
    const counts = new Map<number, number>();
    for (const vocab of vocabs) {
      for (const cp of vocab.codePoints) counts.set(cp, (counts.get(cp) ?? 0) + 1);
    }
    const byFrequency = [...counts.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    this.dense = new Map(byFrequency.map(([cp], rank) => [cp, rank]));
    this.size = byFrequency.length;
  }

  /** `vocab.codePoints` in dense codes (same offsets). */
  encode(vocab: NormalisedVocab): Int32Array {
    const out = new Int32Array(vocab.codePoints.length);
    for (let i = 0; i < out.length; i++) {
      const code = this.dense.get(vocab.codePoints[i] as number);
      if (code === undefined) throw new Error(`CodeAlphabet: vocabulary of "${vocab.tokenizer.name}" was not part of this alphabet`);
      out[i] = code;
    }
    return out;
  }
}

/**
 * Character signatures: 128 bits (4 words) with bit `code mod 128` set for every symbol present.
 * A signature bit present in one string and absent from the other stands for at least one
 * symbol that an edit must touch, so such bits count towards a lower bound on the distance.
 */
export const SIGNATURE_WORDS = 4;

/** OR the signature of `codes[start, end)` into `out[at, at + 4)`. */
export function addSignature(codes: ArrayLike<number>, start: number, end: number, out: Int32Array, at: number): void {
  for (let p = start; p < end; p++) {
    const code = codes[p] as number;
    const word = at + ((code >>> 5) & 3);
    out[word] = (out[word] as number) | (1 << (code & 31));
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
