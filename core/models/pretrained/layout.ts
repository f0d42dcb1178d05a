/**
 * How a checkpoint's stored tensors become this project's base parameters: each parameter has a
 * recipe naming the stored tensors it is made from and the reshaping between the two layouts
 * (stored matrices are PyTorch's [out, in], parameters here [in, out]; embedding rows follow the
 * model vocabulary; fused or permuted projections are taken apart).
 */
import type { TransformerConfig } from '../config.js';
import type { ModelSpec } from '../spec.js';
import type { TensorSource } from './tensor-source.js';

/** One base parameter from stored tensors. */
export interface Recipe {
  /** The stored tensors it reads (each must exist, with the shape given when one is). */
  from: ReadonlyArray<{ name: string; shape?: readonly number[] }>;
  make(source: TensorSource): Float32Array;
}

/** An opened checkpoint of either format. */
export interface OpenedCheckpoint {
  path: string;
  format: 'llama2.c' | 'hugging-face';
  /** Its architecture (the spec less `lora`; maxSeqLen its context length). */
  spec: Omit<ModelSpec, 'lora'>;
  /** Rows of its token embedding. */
  vocabRows: number;
  /** bos and eos ids when the checkpoint names them. */
  specials: { bos?: number; eos?: number };
  source: TensorSource;
  /** Every base parameter of `config`, the embedding's (and head's) rows being the stored rows
   * `rows` (model id -> stored row, -1: a zero row). */
  recipes(config: TransformerConfig, rows: Int32Array): Map<string, Recipe>;
  /** Stored tensors that hold no weight (rotary tables, attention masks) and are left out. */
  ignored(name: string): boolean;
}

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}

/** Rows `rows` of a [*, cols] matrix, in that order; -1 gives a row of zeros. */
function pickRows(values: Float32Array, cols: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r >= 0) out.set(values.subarray(r * cols, (r + 1) * cols), i * cols);
  });
  return out;
}

/** Rows [from, from + count) of a [*, cols] matrix. */
export function rowRange(values: Float32Array, cols: number, from: number, count: number): Float32Array {
  return values.slice(from * cols, (from + count) * cols);
}

/** Columns [from, from + count) of a [rows, cols] matrix (a slice of a 1-D tensor when rows = 1). */
export function columnRange(values: Float32Array, rows: number, cols: number, from: number, count: number): Float32Array {
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols + from, r * cols + from + count), r * count);
  return out;
}

/**
 * The rows of a [heads * hd, in] query or key weight reordered from interleaved rotary pairs
 * (2i, 2i + 1), as llama2.c and Meta's checkpoints rotate them, to the rotate-half pairs
 * (i, i + hd/2) of Hugging Face's layout and of llama.ts: within each head, new row j hd/2 + i is
 * old row 2i + j (transformers' convert_llama_weights_to_hf permutation).
 */
export function interleavedToHalfRows(values: Float32Array, heads: number, hd: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * hd + 2 * i + j) * cols;
        out.set(values.subarray(from, from + cols), (h * hd + j * half + i) * cols);
      }
    }
  }
  return out;
}

/** A [out, in] Linear weight as a [in, out] parameter. */
export function linear(name: string, outDim: number, inDim: number, rows?: (v: Float32Array) => Float32Array): Recipe {
  return {
    from: [{ name, shape: [outDim, inDim] }],
    make: (s) => transpose(rows ? rows(s.read(name)) : s.read(name), outDim, inDim),
  };
}

/** A tensor taken as it is. */
export function copy(name: string, shape: readonly number[]): Recipe {
  return { from: [{ name, shape }], make: (s) => s.read(name) };
}

/** An embedding table [stored rows, d] with its rows picked for the model vocabulary. */
export function embeddingRows(name: string, storedRows: number, d: number, rows: Int32Array): Recipe {
  return { from: [{ name, shape: [storedRows, d] }], make: (s) => pickRows(s.read(name), d, rows) };
}

/** An untied output head stored [stored rows, d] as a [d, model vocabulary] parameter. */
export function headColumns(name: string, storedRows: number, d: number, rows: Int32Array): Recipe {
  return { from: [{ name, shape: [storedRows, d] }], make: (s) => transpose(pickRows(s.read(name), d, rows), rows.length, d) };
}
