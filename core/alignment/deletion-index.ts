/**
 * Deletion-neighbourhood index (as in SymSpell): for each j, the hashes of every spelling
 * obtained from a candidate by deleting exactly j symbols. If Levenshtein(q, c) <= k, some
 * deletion variant of q with at most k deletions equals one of c with at most k deletions
 * (substitution = a deletion on both sides), so looking q's variants up finds every candidate
 * within distance k. Hash collisions only add candidates, which the caller verifies.
 */

/**
 * 32-bit FNV-1a over the symbols of `buf[0, length)`, seeded with the length. Not core/random's
 * hashString: this one reads integer symbols from a reused buffer in the alignment's inner loop,
 * where making a string per deletion variant would cost more than the lookup.
 */
function hashSymbols(buf: Int32Array, length: number): number {
  let h = (0x811c9dc5 ^ length) >>> 0;
  for (let i = 0; i < length; i++) {
    h ^= buf[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Calls `visit(hash)` for every variant of `codes[start, start + length)` with exactly `deletions`
 * symbols removed (positions chosen in lexicographic order; equal variants may repeat).
 */
export function forEachDeletionVariant(
  codes: ArrayLike<number>,
  start: number,
  length: number,
  deletions: number,
  scratch: DeletionScratch,
  visit: (hash: number) => void,
): void {
  if (deletions > length) return;
  const kept = length - deletions;
  const skip = scratch.skip;
  const variant = scratch.variant(kept);
  // skip[0..deletions) = ascending deleted positions.
  for (let d = 0; d < deletions; d++) skip[d] = d;
  for (;;) {
    let n = 0;
    let s = 0;
    for (let p = 0; p < length; p++) {
      if (s < deletions && skip[s] === p) {
        s++;
        continue;
      }
      variant[n++] = codes[start + p] as number;
    }
    visit(hashSymbols(variant, kept));
    // Next combination of `deletions` positions out of `length`.
    let d = deletions - 1;
    while (d >= 0 && (skip[d] as number) === length - deletions + d) d--;
    if (d < 0) return;
    skip[d] = (skip[d] as number) + 1;
    for (let e = d + 1; e < deletions; e++) skip[e] = (skip[e - 1] as number) + 1;
  }
}

export class DeletionScratch {
  readonly skip = new Int32Array(16);
  private buffer = new Int32Array(64);

  variant(length: number): Int32Array {
    if (this.buffer.length < length) this.buffer = new Int32Array(2 * length);
    return this.buffer;
  }
}

/** Candidates (by index, ascending within each chain) keyed by the hashes of their j-deletion variants. */
export class DeletionLevel {
  private readonly head: Int32Array;
  private readonly mask: number;
  private keys: Int32Array;
  private items: Int32Array;
  private next: Int32Array;
  private count = 0;

  constructor(
    readonly deletions: number,
    expectedEntries: number,
  ) {
    let slots = 1024;
    while (slots < 2 * expectedEntries) slots *= 2;
    this.head = new Int32Array(slots).fill(-1);
    this.mask = slots - 1;
    const capacity = Math.max(16, expectedEntries);
    this.keys = new Int32Array(capacity);
    this.items = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  /** Insert candidates in DESCENDING index order so that chains read ascending. */
  insert(hash: number, item: number): void {
    const slot = hash & this.mask;
    // Skip a variant this candidate already put here ("aab" minus either "a").
    for (let e = this.head[slot] as number; e >= 0 && this.items[e] === item; e = this.next[e] as number) {
      if (this.keys[e] === hash) return;
    }
    if (this.count === this.keys.length) this.grow();
    const e = this.count++;
    this.keys[e] = hash;
    this.items[e] = item;
    this.next[e] = this.head[slot] as number;
    this.head[slot] = e;
  }

  /** First entry of the chain holding `hash` (-1 when empty); walk it with {@link entryNext}. */
  firstEntry(hash: number): number {
    return this.head[hash & this.mask] as number;
  }

  entryNext(entry: number): number {
    return this.next[entry] as number;
  }

  entryMatches(entry: number, hash: number): boolean {
    return this.keys[entry] === hash;
  }

  entryItem(entry: number): number {
    return this.items[entry] as number;
  }

  get size(): number {
    return this.count;
  }

  private grow(): void {
    const capacity = this.keys.length * 2;
    const grow = (old: Int32Array) => {
      const next = new Int32Array(capacity);
      next.set(old);
      return next;
    };
    this.keys = grow(this.keys);
    this.items = grow(this.items);
    this.next = grow(this.next);
  }
}
