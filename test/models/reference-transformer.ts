/**
 * Plain-number forward passes of the architectures, written loop by loop from the papers,
 * to hold the tfjs networks to. One sequence at a time; weights as exported by the network.
 */
import type { TransformerConfig } from '../../core/models/config.js';
import type { WeightRecord } from '../../core/models/network.js';

type Vec = number[];

function weight(w: WeightRecord, name: string): { shape: number[]; values: Float32Array } {
  const t = w[name];
  if (!t) throw new Error(`reference: no weight ${name}`);
  return t;
}

/** x [in] times W [in, out] (row-major). */
function vecMat(x: Vec, m: { shape: number[]; values: Float32Array }): Vec {
  const [rows, cols] = m.shape as [number, number];
  const out = new Array<number>(cols).fill(0);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] = (out[j] as number) + (x[i] as number) * (m.values[i * cols + j] as number);
  return out;
}

const add = (a: Vec, b: ArrayLike<number>): Vec => a.map((v, i) => v + (b[i] as number));

function layerNorm(x: Vec, g: Float32Array, b: Float32Array, eps: number): Vec {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * (g[i] as number) + (b[i] as number));
}

function rmsNorm(x: Vec, g: Float32Array, eps: number): Vec {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * (g[i] as number));
}

const gelu = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const silu = (v: number): number => v / (1 + Math.exp(-v));

/** x W (+ b) + (alpha / r) x A B */
function projection(x: Vec, base: WeightRecord, adapter: WeightRecord, name: string, scale: number): Vec {
  let y = vecMat(x, weight(base, `${name}.w`));
  const b = base[`${name}.b`];
  if (b) y = add(y, b.values);
  const a = adapter[`${name}.lora_a`];
  if (a)
    y = add(
      y,
      vecMat(vecMat(x, a), weight(adapter, `${name}.lora_b`)).map((v) => v * scale),
    );
  return y;
}

/** Rotate pairs (i, i + hd/2) of one head vector at position p. */
function rotate(x: Vec, p: number, theta: number): Vec {
  const hd = x.length;
  const half = hd / 2;
  const out = x.slice();
  for (let i = 0; i < half; i++) {
    const angle = p * theta ** ((-2 * i) / hd);
    const [a, b] = [x[i] as number, x[i + half] as number];
    out[i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[i + half] = b * Math.cos(angle) + a * Math.sin(angle);
  }
  return out;
}

/** ALiBi slopes as Press et al. define them for n a power of two: 2^(-8 i / n), i = 1..n. */
function alibiSlopesPowerOfTwo(heads: number): number[] {
  if (!Number.isInteger(Math.log2(heads))) throw new Error('reference: ALiBi for a power-of-two head count only');
  return Array.from({ length: heads }, (_, i) => 2 ** ((-8 * (i + 1)) / heads));
}

/** Causal attention; with `slopes`, ALiBi's penalty -m_h (t - j) on every score. */
function attention(qs: Vec[], ks: Vec[], vs: Vec[], heads: number, slopes?: number[]): Vec[] {
  const d = (qs[0] as Vec).length;
  const hd = d / heads;
  return qs.map((q, t) => {
    const out = new Array<number>(d).fill(0);
    for (let h = 0; h < heads; h++) {
      const slice = (v: Vec): Vec => v.slice(h * hd, (h + 1) * hd);
      const penalty = (j: number): number => (slopes ? -(slopes[h] as number) * (t - j) : 0);
      const scores = ks.slice(0, t + 1).map((k, j) => slice(q).reduce((s, qv, i) => s + qv * (slice(k)[i] as number), 0) / Math.sqrt(hd) + penalty(j));
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((w, j) => {
        const v = slice(vs[j] as Vec);
        for (let i = 0; i < hd; i++) out[h * hd + i] = (out[h * hd + i] as number) + (w / z) * (v[i] as number);
      });
    }
    return out;
  });
}

function row(m: { shape: number[]; values: Float32Array }, r: number): Vec {
  const cols = m.shape[1] as number;
  return Array.from(m.values.subarray(r * cols, (r + 1) * cols));
}

export function referenceLogits(c: TransformerConfig, base: WeightRecord, adapter: WeightRecord, ids: readonly number[]): Vec[] {
  const scale = c.lora.alpha / c.lora.rank;
  const proj = (x: Vec, name: string): Vec => projection(x, base, adapter, name, scale);
  if (c.arch === 'gpt2' || c.arch === 'bloom') {
    const ln = (x: Vec, name: string): Vec => layerNorm(x, weight(base, `${name}.g`).values, weight(base, `${name}.b`).values, c.normEps);
    // GPT-2: learned positions added to the embedding. BLOOM: a LayerNorm of it, positions by ALiBi.
    let h =
      c.arch === 'gpt2'
        ? ids.map((id, t) => add(row(weight(base, 'wte'), id), row(weight(base, 'wpe'), t)))
        : ids.map((id) => ln(row(weight(base, 'wte'), id), 'ln_emb'));
    const slopes = c.arch === 'bloom' ? alibiSlopesPowerOfTwo(c.heads) : undefined;
    for (let l = 0; l < c.layers; l++) {
      const a = h.map((x) => ln(x, `h.${l}.ln_1`));
      const att = attention(
        a.map((x) => proj(x, `h.${l}.attn.q`)),
        a.map((x) => proj(x, `h.${l}.attn.k`)),
        a.map((x) => proj(x, `h.${l}.attn.v`)),
        c.heads,
        slopes,
      );
      h = h.map((x, t) => add(x, proj(att[t] as Vec, `h.${l}.attn.o`)));
      h = h.map((x) => add(x, proj(proj(ln(x, `h.${l}.ln_2`), `h.${l}.mlp.fc`).map(gelu), `h.${l}.mlp.proj`)));
    }
    const wte = weight(base, 'wte');
    return h.map((x) => {
      const n = ln(x, 'ln_f');
      return Array.from({ length: c.vocabSize }, (_, v) => row(wte, v).reduce((s, e, i) => s + e * (n[i] as number), 0));
    });
  }
  const norm = (x: Vec, name: string): Vec => rmsNorm(x, weight(base, `${name}.g`).values, c.normEps);
  const hd = c.dModel / c.heads;
  const rope = (x: Vec, t: number): Vec => Array.from({ length: c.heads }, (_, h) => rotate(x.slice(h * hd, (h + 1) * hd), t, c.ropeTheta)).flat();
  let h = ids.map((id) => row(weight(base, 'embed'), id));
  for (let l = 0; l < c.layers; l++) {
    const n = h.map((x) => norm(x, `layers.${l}.attn_norm`));
    const q = n.map((x, t) => rope(proj(x, `layers.${l}.attn.q`), t));
    const k = n.map((x, t) => rope(proj(x, `layers.${l}.attn.k`), t));
    const att = attention(
      q,
      k,
      n.map((x) => proj(x, `layers.${l}.attn.v`)),
      c.heads,
    );
    h = h.map((x, t) => add(x, proj(att[t] as Vec, `layers.${l}.attn.o`)));
    h = h.map((x) => {
      const m = norm(x, `layers.${l}.mlp_norm`);
      const up = proj(m, `layers.${l}.mlp.up`);
      const gated = proj(m, `layers.${l}.mlp.gate`).map((g, i) => silu(g) * (up[i] as number));
      return add(x, proj(gated, `layers.${l}.mlp.down`));
    });
  }
  return h.map((x) => vecMat(norm(x, 'norm'), weight(base, 'lm_head.w')));
}
