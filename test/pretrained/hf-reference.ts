/**
 * Tiny Hugging Face checkpoints written from random numbers, and their forward passes computed
 * here loop by loop in Hugging Face's own conventions (tensor names, nn.Linear [out, in] or
 * Conv1D [in, out], fused q|k|v, BLOOM's per-head fusion and +m j ALiBi, OPT's position offset,
 * rotate_half and repeat_kv), independently of the loader's mapping.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../../core/random.js';

export type Tensors = Record<string, { shape: number[]; values: Float32Array }>;
type Vec = number[];

export interface TinyConfig {
  type: 'gpt2' | 'opt' | 'bloom' | 'llama' | 'qwen2';
  vocab: number;
  d: number;
  heads: number;
  kvHeads: number;
  ff: number;
  layers: number;
  positions: number;
  tied: boolean;
}

/** Random values that bf16 (8 significant bits) and f16 hold exactly: k / 256 with |k| < 256, or
 * about 1 (gains), 1 + k / 128 with |k| < 128. */
function randomTensor(shape: number[], rng: Random, offset = 0): { shape: number[]; values: Float32Array } {
  const size = shape.reduce((a, b) => a * b, 1);
  const step = offset === 0 ? 256 : 128;
  return { shape, values: Float32Array.from({ length: size }, () => offset + Math.max(1 - step, Math.min(step - 1, Math.round(rng.normal() * 64))) / step) };
}

/** Every tensor of a tiny model of `c.type`, named and shaped as Hugging Face stores them. */
export function tinyHfTensors(c: TinyConfig, seed: number): Tensors {
  const rng = new Random(seed);
  const t: Tensors = {};
  const add = (name: string, shape: number[], offset = 0): void => void (t[name] = randomTensor(shape, rng, offset));
  const ln = (name: string): void => {
    add(`${name}.weight`, [c.d], 1);
    add(`${name}.bias`, [c.d]);
  };
  const hd = c.d / c.heads;
  if (c.type === 'gpt2') {
    add('wte.weight', [c.vocab, c.d]);
    add('wpe.weight', [c.positions, c.d]);
    for (let i = 0; i < c.layers; i++) {
      ln(`h.${i}.ln_1`);
      ln(`h.${i}.ln_2`);
      add(`h.${i}.attn.c_attn.weight`, [c.d, 3 * c.d]);
      add(`h.${i}.attn.c_attn.bias`, [3 * c.d]);
      add(`h.${i}.attn.c_proj.weight`, [c.d, c.d]);
      add(`h.${i}.attn.c_proj.bias`, [c.d]);
      add(`h.${i}.mlp.c_fc.weight`, [c.d, c.ff]);
      add(`h.${i}.mlp.c_fc.bias`, [c.ff]);
      add(`h.${i}.mlp.c_proj.weight`, [c.ff, c.d]);
      add(`h.${i}.mlp.c_proj.bias`, [c.d]);
      t[`h.${i}.attn.bias`] = { shape: [1, 1, c.positions, c.positions], values: new Float32Array(c.positions * c.positions).fill(1) };
    }
    ln('ln_f');
  } else if (c.type === 'opt') {
    const p = 'model.decoder';
    add(`${p}.embed_tokens.weight`, [c.vocab, c.d]);
    add(`${p}.embed_positions.weight`, [c.positions + 2, c.d]);
    for (let i = 0; i < c.layers; i++) {
      const l = `${p}.layers.${i}`;
      ln(`${l}.self_attn_layer_norm`);
      ln(`${l}.final_layer_norm`);
      for (const n of ['q', 'k', 'v', 'out']) {
        add(`${l}.self_attn.${n}_proj.weight`, [c.d, c.d]);
        add(`${l}.self_attn.${n}_proj.bias`, [c.d]);
      }
      add(`${l}.fc1.weight`, [c.ff, c.d]);
      add(`${l}.fc1.bias`, [c.ff]);
      add(`${l}.fc2.weight`, [c.d, c.ff]);
      add(`${l}.fc2.bias`, [c.d]);
    }
    ln(`${p}.final_layer_norm`);
    t['lm_head.weight'] = t[`${p}.embed_tokens.weight`] as Tensors[string];
  } else if (c.type === 'bloom') {
    add('transformer.word_embeddings.weight', [c.vocab, c.d]);
    ln('transformer.word_embeddings_layernorm');
    for (let i = 0; i < c.layers; i++) {
      const l = `transformer.h.${i}`;
      ln(`${l}.input_layernorm`);
      ln(`${l}.post_attention_layernorm`);
      add(`${l}.self_attention.query_key_value.weight`, [3 * c.d, c.d]);
      add(`${l}.self_attention.query_key_value.bias`, [3 * c.d]);
      add(`${l}.self_attention.dense.weight`, [c.d, c.d]);
      add(`${l}.self_attention.dense.bias`, [c.d]);
      add(`${l}.mlp.dense_h_to_4h.weight`, [c.ff, c.d]);
      add(`${l}.mlp.dense_h_to_4h.bias`, [c.ff]);
      add(`${l}.mlp.dense_4h_to_h.weight`, [c.d, c.ff]);
      add(`${l}.mlp.dense_4h_to_h.bias`, [c.d]);
    }
    ln('transformer.ln_f');
  } else {
    add('model.embed_tokens.weight', [c.vocab, c.d]);
    for (let i = 0; i < c.layers; i++) {
      const l = `model.layers.${i}`;
      add(`${l}.input_layernorm.weight`, [c.d], 1);
      add(`${l}.post_attention_layernorm.weight`, [c.d], 1);
      for (const [n, rows] of [
        ['q', c.d],
        ['k', c.kvHeads * hd],
        ['v', c.kvHeads * hd],
        ['o', c.d],
      ] as const) {
        add(`${l}.self_attn.${n}_proj.weight`, [rows, c.d]);
        if (c.type === 'qwen2' && n !== 'o') add(`${l}.self_attn.${n}_proj.bias`, [rows]);
      }
      add(`${l}.mlp.gate_proj.weight`, [c.ff, c.d]);
      add(`${l}.mlp.up_proj.weight`, [c.ff, c.d]);
      add(`${l}.mlp.down_proj.weight`, [c.d, c.ff]);
      t[`${l}.self_attn.rotary_emb.inv_freq`] = { shape: [hd / 2], values: Float32Array.from({ length: hd / 2 }, (_, i) => 10000 ** ((-2 * i) / hd)) };
    }
    add('model.norm.weight', [c.d], 1);
    if (!c.tied) add('lm_head.weight', [c.vocab, c.d]);
  }
  return t;
}

/** config.json of a tiny model, with the fields Hugging Face writes for its type. */
export function tinyHfConfig(c: TinyConfig): Record<string, unknown> {
  const common = { vocab_size: c.vocab, bos_token_id: 1, eos_token_id: 2 };
  if (c.type === 'gpt2')
    return {
      ...common,
      model_type: 'gpt2',
      n_embd: c.d,
      n_head: c.heads,
      n_layer: c.layers,
      n_positions: c.positions,
      n_inner: c.ff,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
    };
  if (c.type === 'opt')
    return {
      ...common,
      model_type: 'opt',
      hidden_size: c.d,
      num_attention_heads: c.heads,
      num_hidden_layers: c.layers,
      ffn_dim: c.ff,
      max_position_embeddings: c.positions,
      activation_function: 'relu',
      do_layer_norm_before: true,
      word_embed_proj_dim: c.d,
    };
  if (c.type === 'bloom')
    return {
      ...common,
      model_type: 'bloom',
      hidden_size: c.d,
      n_head: c.heads,
      n_layer: c.layers,
      layer_norm_epsilon: 1e-5,
      apply_residual_connection_post_layernorm: false,
    };
  return {
    ...common,
    model_type: c.type,
    hidden_size: c.d,
    intermediate_size: c.ff,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    num_hidden_layers: c.layers,
    max_position_embeddings: c.positions,
    rms_norm_eps: 1e-6,
    rope_theta: 500,
    tie_word_embeddings: c.tied,
    hidden_act: 'silu',
  };
}

function toHalf(v: number): number {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const e = Math.floor(Math.log2(Math.abs(v)));
  const fraction = Math.round((Math.abs(v) / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | fraction;
}

/** A safetensors file with every tensor in `dtype` (the values must be exact in it). */
export function writeSafetensorsAs(file: string, tensors: Tensors, dtype: 'F32' | 'F16' | 'BF16'): void {
  const bytes = dtype === 'F32' ? 4 : 2;
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const n of names) {
    const size = (tensors[n] as Tensors[string]).values.length * bytes;
    header[n] = { dtype, shape: (tensors[n] as Tensors[string]).shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const n of names) {
    for (const v of (tensors[n] as Tensors[string]).values) {
      if (dtype === 'F32') out.writeFloatLE(v, at);
      else if (dtype === 'BF16') out.writeUInt16LE(new Uint32Array(Float32Array.of(v).buffer)[0]! >>> 16, at);
      else out.writeUInt16LE(toHalf(v), at);
      at += bytes;
    }
  }
  writeFileSync(file, out);
}

/** A model folder: config.json and model.safetensors, or two shards and their index. */
export function writeHfFolder(
  dir: string,
  config: Record<string, unknown>,
  tensors: Tensors,
  options: { dtype?: 'F32' | 'F16' | 'BF16'; sharded?: boolean } = {},
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const dtype = options.dtype ?? 'F32';
  if (!options.sharded) {
    writeSafetensorsAs(join(dir, 'model.safetensors'), tensors, dtype);
    return;
  }
  const names = Object.keys(tensors).sort();
  const shards = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  shards.forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensorsAs(join(dir, file), Object.fromEntries(part.map((n) => [n, tensors[n] as Tensors[string]])), dtype);
    for (const n of part) weightMap[n] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

// ---------------------------------------------------------------------------------------------
// The forward pass in Hugging Face's conventions, one sequence, plain numbers

const w = (t: Tensors, name: string): { shape: number[]; values: Float32Array } => {
  const x = t[name];
  if (!x) throw new Error(`reference: no tensor ${name}`);
  return x;
};
/** nn.Linear: x W^T + b, W [out, in]. */
function linear(x: Vec, t: Tensors, name: string, bias = true): Vec {
  const m = w(t, `${name}.weight`);
  const [out, inDim] = m.shape as [number, number];
  const b = bias ? t[`${name}.bias`] : undefined;
  return Array.from({ length: out }, (_, o) => {
    let s = b ? (b.values[o] as number) : 0;
    for (let i = 0; i < inDim; i++) s += (x[i] as number) * (m.values[o * inDim + i] as number);
    return s;
  });
}
/** Conv1D: x W + b, W [in, out]. */
function conv1d(x: Vec, t: Tensors, name: string): Vec {
  const m = w(t, `${name}.weight`);
  const [inDim, out] = m.shape as [number, number];
  const b = w(t, `${name}.bias`);
  return Array.from({ length: out }, (_, o) => {
    let s = b.values[o] as number;
    for (let i = 0; i < inDim; i++) s += (x[i] as number) * (m.values[i * out + o] as number);
    return s;
  });
}
function layerNorm(x: Vec, t: Tensors, name: string, eps = 1e-5): Vec {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  const g = w(t, `${name}.weight`).values;
  const b = w(t, `${name}.bias`).values;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * (g[i] as number) + (b[i] as number));
}
function rmsNorm(x: Vec, t: Tensors, name: string, eps: number): Vec {
  const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
  const g = w(t, `${name}.weight`).values;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * (g[i] as number));
}
const row = (name: string, t: Tensors, r: number): Vec => {
  const m = w(t, name);
  const cols = m.shape[1] as number;
  return Array.from(m.values.subarray(r * cols, (r + 1) * cols));
};
const add = (a: Vec, b: Vec): Vec => a.map((v, i) => v + (b[i] as number));
const geluNew = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** Causal attention; query head h reads key/value head floor(h / (heads / kvHeads)); `bias(h, i, j)` is added to the scores. */
function attention(q: Vec[], k: Vec[], v: Vec[], heads: number, kvHeads: number, bias: (h: number, i: number, j: number) => number = () => 0): Vec[] {
  const hd = (q[0] as Vec).length / heads;
  return q.map((qi, i) => {
    const out: number[] = [];
    for (let h = 0; h < heads; h++) {
      const kh = Math.floor(h / (heads / kvHeads));
      const scores = k.slice(0, i + 1).map((kj, j) => {
        let s = 0;
        for (let c = 0; c < hd; c++) s += (qi[h * hd + c] as number) * (kj[kh * hd + c] as number);
        return s / Math.sqrt(hd) + bias(h, i, j);
      });
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, b) => a + b, 0);
      for (let c = 0; c < hd; c++) out.push(e.reduce((s, p, j) => s + (p / z) * ((v[j] as Vec)[kh * hd + c] as number), 0));
    }
    return out;
  });
}

/** rotate_half RoPE of every head of x at position p. */
function rope(x: Vec, heads: number, p: number, theta: number): Vec {
  const hd = x.length / heads;
  const out = x.slice();
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      const angle = p * theta ** ((-2 * i) / hd);
      const [a, b] = [x[h * hd + i] as number, x[h * hd + i + hd / 2] as number];
      out[h * hd + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[h * hd + i + hd / 2] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

/** Logits [position][stored vocabulary row] of `ids` under the tiny model. */
export function hfReferenceLogits(c: TinyConfig, t: Tensors, ids: readonly number[]): Vec[] {
  const unembed = (h: Vec[], table: string): Vec[] =>
    h.map((x) => Array.from({ length: c.vocab }, (_, r) => row(table, t, r).reduce((s, e, i) => s + e * (x[i] as number), 0)));
  if (c.type === 'gpt2') {
    let h = ids.map((id, p) => add(row('wte.weight', t, id), row('wpe.weight', t, p)));
    for (let l = 0; l < c.layers; l++) {
      const qkv = h.map((x) => conv1d(layerNorm(x, t, `h.${l}.ln_1`), t, `h.${l}.attn.c_attn`));
      const att = attention(
        qkv.map((r) => r.slice(0, c.d)),
        qkv.map((r) => r.slice(c.d, 2 * c.d)),
        qkv.map((r) => r.slice(2 * c.d)),
        c.heads,
        c.heads,
      );
      h = h.map((x, i) => add(x, conv1d(att[i] as Vec, t, `h.${l}.attn.c_proj`)));
      h = h.map((x) => add(x, conv1d(conv1d(layerNorm(x, t, `h.${l}.ln_2`), t, `h.${l}.mlp.c_fc`).map(geluNew), t, `h.${l}.mlp.c_proj`)));
    }
    return unembed(
      h.map((x) => layerNorm(x, t, 'ln_f')),
      'wte.weight',
    );
  }
  if (c.type === 'opt') {
    const p = 'model.decoder';
    let h = ids.map((id, i) => add(row(`${p}.embed_tokens.weight`, t, id), row(`${p}.embed_positions.weight`, t, i + 2)));
    for (let l = 0; l < c.layers; l++) {
      const a = h.map((x) => layerNorm(x, t, `${p}.layers.${l}.self_attn_layer_norm`));
      const proj = (n: string): Vec[] => a.map((x) => linear(x, t, `${p}.layers.${l}.self_attn.${n}_proj`));
      const att = attention(proj('q'), proj('k'), proj('v'), c.heads, c.heads);
      h = h.map((x, i) => add(x, linear(att[i] as Vec, t, `${p}.layers.${l}.self_attn.out_proj`)));
      h = h.map((x) =>
        add(
          x,
          linear(
            linear(layerNorm(x, t, `${p}.layers.${l}.final_layer_norm`), t, `${p}.layers.${l}.fc1`).map((v) => Math.max(0, v)),
            t,
            `${p}.layers.${l}.fc2`,
          ),
        ),
      );
    }
    return unembed(
      h.map((x) => layerNorm(x, t, `${p}.final_layer_norm`)),
      `${p}.embed_tokens.weight`,
    );
  }
  if (c.type === 'bloom') {
    const p = 'transformer';
    const hd = c.d / c.heads;
    // BLOOM's alibi for a power-of-two head count: slope_h = (2^(-8/n))^(h+1), added as slope * key position
    const slopes = Array.from({ length: c.heads }, (_, h) => (2 ** (-8 / c.heads)) ** (h + 1));
    let h = ids.map((id) => layerNorm(row(`${p}.word_embeddings.weight`, t, id), t, `${p}.word_embeddings_layernorm`));
    for (let l = 0; l < c.layers; l++) {
      const fused = h.map((x) => linear(layerNorm(x, t, `${p}.h.${l}.input_layernorm`), t, `${p}.h.${l}.self_attention.query_key_value`));
      const part = (j: number): Vec[] => fused.map((r) => Array.from({ length: c.heads }, (_, hh) => r.slice((hh * 3 + j) * hd, (hh * 3 + j + 1) * hd)).flat());
      const att = attention(part(0), part(1), part(2), c.heads, c.heads, (hh, _i, j) => (slopes[hh] as number) * j);
      h = h.map((x, i) => add(x, linear(att[i] as Vec, t, `${p}.h.${l}.self_attention.dense`)));
      h = h.map((x) =>
        add(
          x,
          linear(
            linear(layerNorm(x, t, `${p}.h.${l}.post_attention_layernorm`), t, `${p}.h.${l}.mlp.dense_h_to_4h`).map(geluNew),
            t,
            `${p}.h.${l}.mlp.dense_4h_to_h`,
          ),
        ),
      );
    }
    return unembed(
      h.map((x) => layerNorm(x, t, `${p}.ln_f`)),
      `${p}.word_embeddings.weight`,
    );
  }
  const bias = c.type === 'qwen2';
  let h = ids.map((id) => row('model.embed_tokens.weight', t, id));
  for (let l = 0; l < c.layers; l++) {
    const n = h.map((x) => rmsNorm(x, t, `model.layers.${l}.input_layernorm`, 1e-6));
    const proj = (name: string): Vec[] => n.map((x) => linear(x, t, `model.layers.${l}.self_attn.${name}_proj`, bias));
    const q = proj('q').map((x, i) => rope(x, c.heads, i, 500));
    const k = proj('k').map((x, i) => rope(x, c.kvHeads, i, 500));
    const att = attention(q, k, proj('v'), c.heads, c.kvHeads);
    h = h.map((x, i) => add(x, linear(att[i] as Vec, t, `model.layers.${l}.self_attn.o_proj`, false)));
    h = h.map((x) => {
      const m = rmsNorm(x, t, `model.layers.${l}.post_attention_layernorm`, 1e-6);
      const up = linear(m, t, `model.layers.${l}.mlp.up_proj`, false);
      const gated = linear(m, t, `model.layers.${l}.mlp.gate_proj`, false).map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
      return add(x, linear(gated, t, `model.layers.${l}.mlp.down_proj`, false));
    });
  }
  return unembed(
    h.map((x) => rmsNorm(x, t, 'model.norm', 1e-6)),
    c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight',
  );
}
