/**
 * Hugging Face tensor names and layouts mapped onto the parameters of llama.ts, qwen2.ts,
 * gpt2.ts, opt.ts and bloom.ts:
 *
 *   llama, qwen2  model.embed_tokens, model.layers.{i}.{input_layernorm, self_attn.{q,k,v,o}_proj,
 *                 post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm, lm_head (untied);
 *                 nn.Linear [out, in], queries and keys already in rotate-half order; qwen2 adds
 *                 q, k, v biases
 *   gpt2          wte, wpe, h.{i}.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_f;
 *                 Conv1D [in, out]; c_attn holds q | k | v side by side
 *   opt           model.decoder.{embed_tokens, embed_positions (two rows of offset),
 *                 layers.{i}.{self_attn_layer_norm, self_attn.{q,k,v,out}_proj, final_layer_norm,
 *                 fc1, fc2}, final_layer_norm}; nn.Linear
 *   bloom         word_embeddings, word_embeddings_layernorm, h.{i}.{input_layernorm,
 *                 self_attention.{query_key_value, dense}, post_attention_layernorm,
 *                 mlp.{dense_h_to_4h, dense_4h_to_h}}, ln_f; nn.Linear; query_key_value's rows
 *                 are per head q, k, v ([heads, 3, hd])
 *
 * Prefixes vary with the class that saved the file (`model.`, `transformer.`, none); the one in
 * use is found from the embedding's name.
 */
import type { Arch, TransformerConfig } from '../config.js';
import { columnRange, copy, embeddingRows, headColumns, linear, rowRange, transpose, type Recipe } from './layout.js';
import type { TensorSource } from './tensor-source.js';

const PREFIXES: Record<Arch, { embedding: string; prefixes: string[] }> = {
  llama: { embedding: 'embed_tokens.weight', prefixes: ['model.', ''] },
  qwen2: { embedding: 'embed_tokens.weight', prefixes: ['model.', ''] },
  gpt2: { embedding: 'wte.weight', prefixes: ['', 'transformer.'] },
  opt: { embedding: 'embed_tokens.weight', prefixes: ['model.decoder.', 'decoder.'] },
  bloom: { embedding: 'word_embeddings.weight', prefixes: ['', 'transformer.'] },
};

function prefixOf(arch: Arch, source: TensorSource): string {
  const { embedding, prefixes } = PREFIXES[arch];
  const found = prefixes.find((p) => source.has(`${p}${embedding}`));
  if (found === undefined) {
    throw new Error(
      `checkpoint ${source.where}: no token embedding ${prefixes.map((p) => `'${p}${embedding}'`).join(' or ')}: not a ${arch} layout this loader knows`,
    );
  }
  return found;
}

/** Stored tensors that hold no weights: rotary frequency buffers, GPT-2's attention masks, a tied head's copy. */
export function hfIgnored(arch: Arch, name: string, tied: boolean): boolean {
  if (/(^|\.)lm_head\.weight$/.test(name)) return arch !== 'llama' && arch !== 'qwen2' ? true : tied;
  if (arch === 'llama' || arch === 'qwen2') return /\.rotary_emb\.inv_freq$/.test(name);
  if (arch === 'gpt2') return /\.attn\.(masked_)?bias$/.test(name);
  return false;
}

/** Gain and bias of a LayerNorm stored as `${from}.weight` and `${from}.bias`. */
function layerNorm(out: Map<string, Recipe>, to: string, from: string, d: number): void {
  out.set(`${to}.g`, copy(`${from}.weight`, [d]));
  out.set(`${to}.b`, copy(`${from}.bias`, [d]));
}

/** Rows [from, from + count) of a position table stored with at least that many rows. */
function positionRows(name: string, d: number, from: number, count: number): Recipe {
  return {
    from: [{ name }],
    make: (s) => {
      const [rows, cols] = s.shape(name) as [number, number];
      if (cols !== d || rows < from + count)
        throw new Error(`checkpoint ${s.where}: tensor '${name}' has shape [${rows}, ${cols}], need [>= ${from + count}, ${d}] for ${count} positions`);
      return rowRange(s.read(name), d, from, count);
    },
  };
}

export function hfRecipes(arch: Arch, c: TransformerConfig, rows: Int32Array, vocabRows: number, source: TensorSource): Map<string, Recipe> {
  const p = prefixOf(arch, source);
  if (arch === 'llama' || arch === 'qwen2') return llamaRecipes(c, rows, vocabRows, p);
  if (arch === 'gpt2') return gpt2Recipes(c, rows, vocabRows, p);
  if (arch === 'opt') return optRecipes(c, rows, vocabRows, p);
  return bloomRecipes(c, rows, vocabRows, p);
}

function llamaRecipes(c: TransformerConfig, rows: Int32Array, vocabRows: number, p: string): Map<string, Recipe> {
  const d = c.dModel;
  const kv = (d / c.heads) * c.kvHeads;
  const out = new Map<string, Recipe>([['embed', embeddingRows(`${p}embed_tokens.weight`, vocabRows, d, rows)]]);
  for (let i = 0; i < c.layers; i++) {
    const [to, from] = [`layers.${i}`, `${p}layers.${i}`];
    out.set(`${to}.attn_norm.g`, copy(`${from}.input_layernorm.weight`, [d]));
    out.set(`${to}.mlp_norm.g`, copy(`${from}.post_attention_layernorm.weight`, [d]));
    for (const [name, width] of [
      ['q', d],
      ['k', kv],
      ['v', kv],
    ] as const) {
      out.set(`${to}.attn.${name}.w`, linear(`${from}.self_attn.${name}_proj.weight`, width, d));
      if (c.arch === 'qwen2') out.set(`${to}.attn.${name}.b`, copy(`${from}.self_attn.${name}_proj.bias`, [width]));
    }
    out.set(`${to}.attn.o.w`, linear(`${from}.self_attn.o_proj.weight`, d, d));
    out.set(`${to}.mlp.gate.w`, linear(`${from}.mlp.gate_proj.weight`, c.dFF, d));
    out.set(`${to}.mlp.up.w`, linear(`${from}.mlp.up_proj.weight`, c.dFF, d));
    out.set(`${to}.mlp.down.w`, linear(`${from}.mlp.down_proj.weight`, d, c.dFF));
  }
  out.set('norm.g', copy(`${p}norm.weight`, [d]));
  if (!c.tieEmbeddings) out.set('lm_head.w', headColumns('lm_head.weight', vocabRows, d, rows));
  return out;
}

function gpt2Recipes(c: TransformerConfig, rows: Int32Array, vocabRows: number, p: string): Map<string, Recipe> {
  const d = c.dModel;
  const out = new Map<string, Recipe>([
    ['wte', embeddingRows(`${p}wte.weight`, vocabRows, d, rows)],
    ['wpe', positionRows(`${p}wpe.weight`, d, 0, c.maxSeqLen)],
  ]);
  for (let i = 0; i < c.layers; i++) {
    const [to, from] = [`h.${i}`, `${p}h.${i}`];
    layerNorm(out, `${to}.ln_1`, `${from}.ln_1`, d);
    layerNorm(out, `${to}.ln_2`, `${from}.ln_2`, d);
    // c_attn: [d, 3d] with q, k, v in column thirds
    const fused = `${from}.attn.c_attn`;
    ['q', 'k', 'v'].forEach((name, j) => {
      out.set(`${to}.attn.${name}.w`, {
        from: [{ name: `${fused}.weight`, shape: [d, 3 * d] }],
        make: (s) => columnRange(s.read(`${fused}.weight`), d, 3 * d, j * d, d),
      });
      out.set(`${to}.attn.${name}.b`, {
        from: [{ name: `${fused}.bias`, shape: [3 * d] }],
        make: (s) => columnRange(s.read(`${fused}.bias`), 1, 3 * d, j * d, d),
      });
    });
    for (const [to2, from2, shape] of [
      ['attn.o', 'attn.c_proj', [d, d]],
      ['mlp.fc', 'mlp.c_fc', [d, c.dFF]],
      ['mlp.proj', 'mlp.c_proj', [c.dFF, d]],
    ] as const) {
      out.set(`${to}.${to2}.w`, copy(`${from}.${from2}.weight`, shape));
      out.set(`${to}.${to2}.b`, copy(`${from}.${from2}.bias`, [shape[1]]));
    }
  }
  layerNorm(out, 'ln_f', `${p}ln_f`, d);
  return out;
}

/** A Linear's weight as [in, out] and its bias. */
function linearWithBias(out: Map<string, Recipe>, to: string, from: string, outDim: number, inDim: number): void {
  out.set(`${to}.w`, linear(`${from}.weight`, outDim, inDim));
  out.set(`${to}.b`, copy(`${from}.bias`, [outDim]));
}

function optRecipes(c: TransformerConfig, rows: Int32Array, vocabRows: number, p: string): Map<string, Recipe> {
  const d = c.dModel;
  const out = new Map<string, Recipe>([
    ['wte', embeddingRows(`${p}embed_tokens.weight`, vocabRows, d, rows)],
    // OPT's learned positions start two rows in (fairseq's padding offset)
    ['wpe', positionRows(`${p}embed_positions.weight`, d, 2, c.maxSeqLen)],
  ]);
  for (let i = 0; i < c.layers; i++) {
    const [to, from] = [`h.${i}`, `${p}layers.${i}`];
    layerNorm(out, `${to}.ln_1`, `${from}.self_attn_layer_norm`, d);
    layerNorm(out, `${to}.ln_2`, `${from}.final_layer_norm`, d);
    for (const name of ['q', 'k', 'v'] as const) linearWithBias(out, `${to}.attn.${name}`, `${from}.self_attn.${name}_proj`, d, d);
    linearWithBias(out, `${to}.attn.o`, `${from}.self_attn.out_proj`, d, d);
    linearWithBias(out, `${to}.mlp.fc`, `${from}.fc1`, c.dFF, d);
    linearWithBias(out, `${to}.mlp.proj`, `${from}.fc2`, d, c.dFF);
  }
  layerNorm(out, 'ln_f', `${p}final_layer_norm`, d);
  return out;
}

/** The rows of BLOOM's fused query_key_value ([heads, 3, hd] rows) that belong to q (0), k (1) or v (2). */
function bloomPart(values: Float32Array, heads: number, hd: number, cols: number, part: number): Float32Array {
  const out = new Float32Array(heads * hd * cols);
  for (let h = 0; h < heads; h++) {
    const from = (h * 3 + part) * hd * cols;
    out.set(values.subarray(from, from + hd * cols), h * hd * cols);
  }
  return out;
}

function bloomRecipes(c: TransformerConfig, rows: Int32Array, vocabRows: number, p: string): Map<string, Recipe> {
  const d = c.dModel;
  const hd = d / c.heads;
  const out = new Map<string, Recipe>([['wte', embeddingRows(`${p}word_embeddings.weight`, vocabRows, d, rows)]]);
  layerNorm(out, 'ln_emb', `${p}word_embeddings_layernorm`, d);
  for (let i = 0; i < c.layers; i++) {
    const [to, from] = [`h.${i}`, `${p}h.${i}`];
    layerNorm(out, `${to}.ln_1`, `${from}.input_layernorm`, d);
    layerNorm(out, `${to}.ln_2`, `${from}.post_attention_layernorm`, d);
    const fused = `${from}.self_attention.query_key_value`;
    ['q', 'k', 'v'].forEach((name, j) => {
      out.set(`${to}.attn.${name}.w`, {
        from: [{ name: `${fused}.weight`, shape: [3 * d, d] }],
        make: (s) => transpose(bloomPart(s.read(`${fused}.weight`), c.heads, hd, d, j), d, d),
      });
      out.set(`${to}.attn.${name}.b`, {
        from: [{ name: `${fused}.bias`, shape: [3 * d] }],
        make: (s) => bloomPart(s.read(`${fused}.bias`), c.heads, hd, 1, j),
      });
    });
    linearWithBias(out, `${to}.attn.o`, `${from}.self_attention.dense`, d, d);
    linearWithBias(out, `${to}.mlp.fc`, `${from}.mlp.dense_h_to_4h`, c.dFF, d);
    linearWithBias(out, `${to}.mlp.proj`, `${from}.mlp.dense_4h_to_h`, d, c.dFF);
  }
  layerNorm(out, 'ln_f', `${p}ln_f`, d);
  return out;
}
