/**
 * llama2.c checkpoints (Karpathy's `run.c` format), little-endian:
 *
 *   v0   7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: the
 *        classifier is stored apart), seq_len; then float32 token embedding, attention norms,
 *        wq, wk, wv, wo, FFN norms, w1, w2, w3 (each kind for all layers before the next), the
 *        final norm, the legacy rotary cos and sin tables [seq_len, hd/2], the classifier if apart
 *   v1   magic "ak42" (uint32 0x616b3432), int32 version 1, the 7 ints, uint8 shared classifier,
 *        zero-padded to 256 bytes; float32 attention norms, FFN norms, final norm, embedding,
 *        wq .. w3, the classifier if not shared
 *   v2   as v1 with int32 group size after the flag; float32 norms, then each matrix (embedding,
 *        every layer's wq, ..., w3, classifier) as Q8_0: int8 values then float32 group scales
 *
 * Matrices are [out, in]; queries and keys rotate interleaved pairs (2i, 2i + 1), which the
 * loader permutes into llama.ts's rotate-half layout. RMSNorm's epsilon is run.c's 1e-5.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { TransformerConfig } from '../config.js';
import { copy, embeddingRows, headColumns, interleavedToHalfRows, linear, type OpenedCheckpoint, type Recipe } from './layout.js';
import { TensorSource, type StoredTensor } from './tensor-source.js';

const MAGIC = 0x616b3432;

interface Llama2cHeader {
  version: 0 | 1 | 2;
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
  shared: boolean;
  groupSize: number;
  /** Bytes before the weights. */
  size: number;
}

function readHeader(path: string): { header: Llama2cHeader; fileSize: number } {
  const bytes = Buffer.alloc(256);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, bytes, 0, 256, 0);
  } finally {
    closeSync(fd);
  }
  const fileSize = statSync(path).size;
  if (n < 28) throw new Error(`llama2.c checkpoint ${path}: ${fileSize} bytes is too short for a header`);
  const int = (at: number): number => bytes.readInt32LE(at);
  const versioned = bytes.readUInt32LE(0) === MAGIC;
  const version = versioned ? int(4) : 0;
  if (version !== 0 && version !== 1 && version !== 2) throw new Error(`llama2.c checkpoint ${path}: version ${version} is not one of 0, 1, 2`);
  const p = versioned ? 8 : 0;
  const [dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen] = [0, 1, 2, 3, 4, 5, 6].map((i) => int(p + 4 * i)) as number[];
  const header: Llama2cHeader = {
    version,
    dim: dim as number,
    hiddenDim: hiddenDim as number,
    layers: layers as number,
    heads: heads as number,
    kvHeads: kvHeads as number,
    vocab: Math.abs(vocab as number),
    seqLen: seqLen as number,
    shared: versioned ? bytes[36] === 1 : (vocab as number) > 0,
    groupSize: version === 2 ? bytes.readInt32LE(37) : 0,
    size: versioned ? 256 : 28,
  };
  const { dim: d, heads: h, kvHeads: kv } = header;
  const sane = [d, header.hiddenDim, header.layers, h, kv, header.vocab, header.seqLen].every((x) => Number.isInteger(x) && x > 0 && x < 1 << 24);
  if (!sane || d % h !== 0 || h % kv !== 0 || (d / h) % 2 !== 0 || (version === 2 && !(header.groupSize > 0))) {
    throw new Error(
      `llama2.c checkpoint ${path}: header (v${version}) dim=${dim} hidden_dim=${hiddenDim} n_layers=${layers} n_heads=${heads} ` +
        `n_kv_heads=${kvHeads} vocab_size=${vocab} seq_len=${seqLen} does not describe a LLaMA model`,
    );
  }
  return { header, fileSize };
}

/** Every stored tensor with its offset, in file order, under llama2.c's model.py names. */
function storedTensors(path: string, h: Llama2cHeader): { tensors: Map<string, StoredTensor>; end: number } {
  const hd = h.dim / h.heads;
  const perLayer = (name: string, shape: number[]): Array<[string, number[]]> => Array.from({ length: h.layers }, (_, i) => [`layers.${i}.${name}`, shape]);
  const norms = [...perLayer('attention_norm.weight', [h.dim]), ...perLayer('ffn_norm.weight', [h.dim]), ['norm.weight', [h.dim]]] as Array<[string, number[]]>;
  const matrices: Array<[string, number[]]> = [
    ['tok_embeddings.weight', [h.vocab, h.dim]],
    ...perLayer('attention.wq.weight', [h.dim, h.dim]),
    ...perLayer('attention.wk.weight', [h.kvHeads * hd, h.dim]),
    ...perLayer('attention.wv.weight', [h.kvHeads * hd, h.dim]),
    ...perLayer('attention.wo.weight', [h.dim, h.dim]),
    ...perLayer('feed_forward.w1.weight', [h.hiddenDim, h.dim]),
    ...perLayer('feed_forward.w2.weight', [h.dim, h.hiddenDim]),
    ...perLayer('feed_forward.w3.weight', [h.hiddenDim, h.dim]),
  ];
  const classifier: Array<[string, number[]]> = h.shared ? [] : [['output.weight', [h.vocab, h.dim]]];
  const ropeTables: Array<[string, number[]]> = [
    ['freqs_cos', [h.seqLen, hd / 2]],
    ['freqs_sin', [h.seqLen, hd / 2]],
  ];
  const v0 = (): Array<[string, number[]]> => {
    // v0 stores the kinds in the order run.c reads them, norms among the matrices
    const kind = (k: string): Array<[string, number[]]> => [...norms, ...matrices].filter(([n]) => n.endsWith(k));
    return [
      ['tok_embeddings.weight', [h.vocab, h.dim]],
      ...['attention_norm.weight', 'wq.weight', 'wk.weight', 'wv.weight', 'wo.weight', 'ffn_norm.weight', 'w1.weight', 'w2.weight', 'w3.weight'].flatMap(kind),
      ['norm.weight', [h.dim]],
      ...ropeTables,
      ...classifier,
    ];
  };
  const order = h.version === 0 ? v0() : [...norms, ...matrices, ...classifier];
  const quantised = new Set(h.version === 2 ? [...matrices, ...classifier].map(([n]) => n) : []);
  const tensors = new Map<string, StoredTensor>();
  let at = h.size;
  for (const [name, shape] of order) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (quantised.has(name)) {
      if (size % h.groupSize !== 0) throw new Error(`llama2.c checkpoint ${path}: ${name} has ${size} values, not a multiple of the group size ${h.groupSize}`);
      tensors.set(name, { shape, file: path, offset: at, dtype: 'Q8_0', groupSize: h.groupSize });
      at += size + (size / h.groupSize) * 4;
    } else {
      tensors.set(name, { shape, file: path, offset: at, dtype: 'F32' });
      at += size * 4;
    }
  }
  return { tensors, end: at };
}

/** The architecture a llama2.c file holds, from its header alone. */
export function describeLlama2c(path: string): Pick<OpenedCheckpoint, 'spec' | 'vocabRows' | 'specials'> {
  const { header: h } = readHeader(path);
  return {
    spec: {
      arch: 'llama',
      layers: h.layers,
      heads: h.heads,
      kvHeads: h.kvHeads,
      dModel: h.dim,
      dFF: h.hiddenDim,
      maxSeqLen: h.seqLen,
      normEps: 1e-5,
      ropeTheta: 10000,
      tieEmbeddings: h.shared,
    },
    vocabRows: h.vocab,
    // run.c's convention: bos 1, eos 2 (sentencepiece's LLaMA ids)
    specials: { bos: 1, eos: 2 },
  };
}

export function openLlama2c(path: string): OpenedCheckpoint {
  const { header: h, fileSize } = readHeader(path);
  const { tensors, end } = storedTensors(path, h);
  if (end !== fileSize) {
    throw new Error(
      `llama2.c checkpoint ${path}: ${fileSize} bytes, but a v${h.version} file of dim ${h.dim}, ${h.layers} layers, ` +
        `${h.heads}/${h.kvHeads} heads, hidden ${h.hiddenDim}, vocab ${h.vocab}${h.shared ? '' : ' (separate classifier)'} has ${end}`,
    );
  }
  const described = describeLlama2c(path);
  return {
    path,
    format: 'llama2.c',
    ...described,
    source: new TensorSource(path, tensors),
    recipes: (config, rows) => llama2cRecipes(config, rows, h),
    ignored: (name) => name === 'freqs_cos' || name === 'freqs_sin',
  };
}

function llama2cRecipes(c: TransformerConfig, rows: Int32Array, h: Llama2cHeader): Map<string, Recipe> {
  const hd = c.dModel / c.heads;
  const out = new Map<string, Recipe>();
  out.set('embed', embeddingRows('tok_embeddings.weight', h.vocab, c.dModel, rows));
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}`;
    out.set(`${p}.attn_norm.g`, copy(`${p}.attention_norm.weight`, [c.dModel]));
    out.set(`${p}.mlp_norm.g`, copy(`${p}.ffn_norm.weight`, [c.dModel]));
    out.set(
      `${p}.attn.q.w`,
      linear(`${p}.attention.wq.weight`, c.dModel, c.dModel, (v) => interleavedToHalfRows(v, c.heads, hd, c.dModel)),
    );
    out.set(
      `${p}.attn.k.w`,
      linear(`${p}.attention.wk.weight`, c.kvHeads * hd, c.dModel, (v) => interleavedToHalfRows(v, c.kvHeads, hd, c.dModel)),
    );
    out.set(`${p}.attn.v.w`, linear(`${p}.attention.wv.weight`, c.kvHeads * hd, c.dModel));
    out.set(`${p}.attn.o.w`, linear(`${p}.attention.wo.weight`, c.dModel, c.dModel));
    out.set(`${p}.mlp.gate.w`, linear(`${p}.feed_forward.w1.weight`, c.dFF, c.dModel));
    out.set(`${p}.mlp.down.w`, linear(`${p}.feed_forward.w2.weight`, c.dModel, c.dFF));
    out.set(`${p}.mlp.up.w`, linear(`${p}.feed_forward.w3.weight`, c.dFF, c.dModel));
  }
  out.set('norm.g', copy('norm.weight', [c.dModel]));
  if (!c.tieEmbeddings) out.set('lm_head.w', headColumns('output.weight', h.vocab, c.dModel, rows));
  return out;
}
