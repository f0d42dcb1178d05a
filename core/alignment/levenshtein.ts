/**
 * Levenshtein distance over code point (or dense code) arrays: the plain dynamic programme,
 * and Myers' bit-parallel algorithm in Hyyrö's form for global distance, for patterns of up
 * to 32 symbols.
 */

let sharedRow = new Int32Array(64);

/** Plain O(|a|·|b|) Levenshtein distance between `a[aStart, aEnd)` and `b[bStart, bEnd)`. */
export function levenshteinRange(a: Int32Array, aStart: number, aEnd: number, b: Int32Array, bStart: number, bEnd: number): number {
  const n = bEnd - bStart;
  if (aEnd - aStart === 0) return n;
  if (n === 0) return aEnd - aStart;
  if (sharedRow.length < n + 1) sharedRow = new Int32Array(2 * (n + 1));
  const row = sharedRow;
  for (let j = 0; j <= n; j++) row[j] = j;
  for (let i = aStart; i < aEnd; i++) {
    const ai = a[i];
    let diagonal = row[0] as number;
    let left = diagonal + 1;
    row[0] = left;
    for (let j = 1; j <= n; j++) {
      const up = row[j] as number;
      let best = diagonal + (ai === b[bStart + j - 1] ? 0 : 1);
      if (up + 1 < best) best = up + 1;
      if (left + 1 < best) best = left + 1;
      row[j] = best;
      left = best;
      diagonal = up;
    }
  }
  return row[n] as number;
}

export function levenshtein(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return levenshteinRange(Int32Array.from(a), 0, a.length, Int32Array.from(b), 0, b.length);
}

/** Longest pattern {@link BitParallelPattern} handles: one 32-bit word. */
export const MAX_PATTERN_LENGTH = 32;

/**
 * A pattern preprocessed for Myers' bit-parallel distance: `peq[c]` has bit i set when pattern
 * symbol i is c. Symbols are dense codes in [0, alphabetSize).
 */
export class BitParallelPattern {
  private readonly peq: Int32Array;
  private readonly loaded: Int32Array = new Int32Array(MAX_PATTERN_LENGTH);
  private length = 0;

  constructor(alphabetSize: number) {
    this.peq = new Int32Array(alphabetSize);
  }

  get patternLength(): number {
    return this.length;
  }

  /** Make `codes[start, end)` the pattern (at most 32 symbols). */
  load(codes: ArrayLike<number>, start: number, end: number): void {
    const m = end - start;
    if (m > MAX_PATTERN_LENGTH) throw new Error(`BitParallelPattern: pattern of ${m} symbols exceeds ${MAX_PATTERN_LENGTH}`);
    for (let i = 0; i < this.length; i++) this.peq[this.loaded[i] as number] = 0;
    for (let i = 0; i < m; i++) {
      const c = codes[start + i] as number;
      this.loaded[i] = c;
      this.peq[c] = (this.peq[c] as number) | (1 << i);
    }
    this.length = m;
  }

  /**
   * Distance between the pattern and `text[start, end)` when it is at most `bound`;
   * otherwise some value above `bound` (the scan stops once the bound is out of reach).
   */
  distance(text: ArrayLike<number>, start: number, end: number, bound: number): number {
    const m = this.length;
    if (m === 0) return end - start;
    const peq = this.peq;
    const last = 1 << (m - 1);
    let pv = -1;
    let mv = 0;
    let score = m;
    for (let j = start; j < end; j++) {
      const eq = peq[text[j] as number] as number;
      const xv = eq | mv;
      const xh = (((eq & pv) + pv) ^ pv) | eq;
      let ph = mv | ~(xh | pv);
      let mh = pv & xh;
      if (ph & last) score++;
      else if (mh & last) score--;
      // D[m][end] >= D[m][j] - (end - 1 - j): once that exceeds the bound, no need to go on.
      if (score - (end - 1 - j) > bound) return bound + 1;
      ph = (ph << 1) | 1;
      mh <<= 1;
      pv = mh | ~(xv | ph);
      mv = ph & xv;
    }
    return score;
  }
}
