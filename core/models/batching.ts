/**
 * Padded batches of encoded samples. Rows are right-padded to the longest sample of the batch;
 * position t of a row predicts token t+1, so targets are the inputs shifted left by one.
 */
import type { Random } from '../random.js';

/** One encoded sample in model ids. */
export interface ModelRow {
  ids: Int32Array;
  /** Index of the first answer token (tokens before it are prompt, masked from the CE). */
  answerStart: number;
}

export interface PaddedBatch {
  /** Row indices (into the caller's row list) in batch order. */
  indices: number[];
  batch: number;
  seqLen: number;
  /** Non-pad length of each batch row. */
  lengths: number[];
  /** [batch * seqLen] input ids, padded with 0. */
  ids: Int32Array;
  /** [batch * seqLen] the token each position predicts (0 where there is none). */
  targets: Int32Array;
  /** [batch * seqLen] 1 where the target is an answer token. */
  ceMask: Float32Array;
}

export function padBatch(rows: readonly ModelRow[], indices: readonly number[]): PaddedBatch {
  const seqLen = Math.max(1, ...indices.map((i) => rowAt(rows, i).ids.length));
  const n = indices.length * seqLen;
  const ids = new Int32Array(n);
  const targets = new Int32Array(n);
  const ceMask = new Float32Array(n);
  const lengths: number[] = [];
  indices.forEach((rowIndex, b) => {
    const row = rowAt(rows, rowIndex);
    const base = b * seqLen;
    ids.set(row.ids, base);
    lengths.push(row.ids.length);
    for (let t = 0; t + 1 < row.ids.length; t++) {
      targets[base + t] = row.ids[t + 1] as number;
      if (t + 1 >= row.answerStart) ceMask[base + t] = 1;
    }
  });
  return { indices: [...indices], batch: indices.length, seqLen, lengths, ids, targets, ceMask };
}

function rowAt(rows: readonly ModelRow[], i: number): ModelRow {
  const row = rows[i];
  if (!row) throw new Error(`padBatch: row ${i} does not exist (${rows.length} rows)`);
  return row;
}

/** Row indices cut into batches: shuffled when `rng` is given, in order otherwise. */
export function batchIndices(count: number, batchSize: number, rng?: Random): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const order = Array.from({ length: count }, (_, i) => i);
  const shuffled = rng ? rng.shuffle(order) : order;
  const batches: number[][] = [];
  for (let i = 0; i < count; i += batchSize) batches.push(shuffled.slice(i, i + batchSize));
  return batches;
}
