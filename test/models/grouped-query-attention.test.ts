/**
 * Grouped-query attention (fewer key/value heads than query heads) in all three attention
 * implementations, the fused q, k, v projection with uneven widths, and a LLaMA network with
 * kvHeads and a tied head, each held to a reference written here with plain tfjs ops.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { resolveConfig } from '../../core/models/config.js';
import {
  causalMask,
  causalSelfAttention,
  causalSelfAttentionJs,
  dense,
  qkvDense,
  rotaryTables,
  rotateHalfMatrix,
  type RotaryInput,
} from '../../core/models/layers.js';
import { INFERENCE, TransformerNetwork, type WeightRecord } from '../../core/models/network.js';
import { simdLoops } from '../../core/models/simd.js';
import { Random } from '../../core/random.js';
import { randomWeights } from './tiny-network.js';

beforeAll(async () => {
  await initBackend('wasm');
});

function random(shape: number[], seed: number): tf.Tensor {
  const rng = new Random(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  expect(worst).toBeLessThan(tolerance);
}

/** Value and every input gradient of sum(op(...) * weights) against the same of the reference. */
function expectSameGradients(op: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): void {
  const weights = random(op(...inputs).shape, 99);
  const objective =
    (f: (...xs: tf.Tensor[]) => tf.Tensor) =>
    (...xs: tf.Tensor[]): tf.Scalar =>
      tf.sum(tf.mul(f(...xs), weights));
  expectClose(op(...inputs).dataSync(), reference(...inputs).dataSync());
  const got = tf.grads(objective(op))(inputs);
  const want = tf.grads(objective(reference))(inputs);
  got.forEach((g, i) => expectClose(g.dataSync(), (want[i] as tf.Tensor).dataSync()));
}

/**
 * Attention as Hugging Face writes it: heads split, keys and values repeated to the query heads
 * (repeat_kv), rotate-half rotary positions, scores / sqrt(hd), causal softmax; zero on padding.
 */
function referenceAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  shape: { batch: number; seqLen: number; heads: number; kvHeads: number; lengths: number[] },
  rotary?: RotaryInput,
): tf.Tensor {
  const { batch, seqLen, heads, kvHeads } = shape;
  const hd = (q.shape[1] as number) / heads;
  const split = (x: tf.Tensor, n: number): tf.Tensor => tf.transpose(tf.reshape(x, [batch, seqLen, n, hd]), [0, 2, 1, 3]);
  const rotate = (x: tf.Tensor): tf.Tensor => {
    if (!rotary) return x;
    const [a, b] = tf.split(x, 2, 3);
    return tf.add(tf.mul(x, rotary.cos), tf.mul(tf.concat([tf.neg(b as tf.Tensor), a as tf.Tensor], 3), rotary.sin));
  };
  const repeat = (x: tf.Tensor): tf.Tensor =>
    tf.concat(
      Array.from({ length: heads }, (_, h) => tf.slice(x, [0, Math.floor((h * kvHeads) / heads), 0, 0], [batch, 1, seqLen, hd])),
      1,
    );
  const scores = tf.div(tf.matMul(rotate(split(q, heads)) as tf.Tensor4D, repeat(rotate(split(k, kvHeads))) as tf.Tensor4D, false, true), Math.sqrt(hd));
  const p = tf.softmax(tf.add(scores, causalMask(seqLen)));
  const o = tf.reshape(tf.transpose(tf.matMul(p as tf.Tensor4D, repeat(split(v, kvHeads)) as tf.Tensor4D), [0, 2, 1, 3]), [batch * seqLen, heads * hd]);
  const real = Float32Array.from({ length: batch * seqLen }, (_, r) => (r % seqLen < (shape.lengths[Math.floor(r / seqLen)] as number) ? 1 : 0));
  return tf.mul(o, tf.tensor2d(real, [batch * seqLen, 1]));
}

function rotaryInput(seqLen: number, hd: number): RotaryInput {
  const { cos, sin } = rotaryTables(seqLen, hd, 10000);
  const r = rotateHalfMatrix(hd);
  const scale = 1 / Math.sqrt(hd);
  return {
    cos,
    sin,
    cosValues: cos.dataSync() as Float32Array,
    sinValues: sin.dataSync() as Float32Array,
    cosQ: tf.mul(cos, scale) as tf.Tensor2D,
    sinQ: tf.mul(sin, scale) as tf.Tensor2D,
    r,
    rT: tf.transpose(r),
  };
}

describe('grouped-query attention: 4 query heads on 2 key/value heads', () => {
  const [batch, seqLen, heads, kvHeads] = [2, 5, 4, 2];
  const lengths = [5, 3];
  const real = (): tf.Tensor =>
    tf.tensor2d(
      Float32Array.from({ length: batch * seqLen }, (_, r) => (r % seqLen < (lengths[Math.floor(r / seqLen)] as number) ? 1 : 0)),
      [batch * seqLen, 1],
    );
  const inputs = (hd: number): tf.Tensor[] => [
    random([batch * seqLen, heads * hd], 1),
    random([batch * seqLen, kvHeads * hd], 2),
    random([batch * seqLen, kvHeads * hd], 3),
  ];
  const shape = { batch, seqLen, heads, kvHeads, lengths };

  it.each([false, true])('the tfjs block has the value and gradients of repeat_kv attention (rotary %s)', (withRotary) => {
    const hd = 4;
    const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      tf.mul(causalSelfAttention(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads, kvHeads }, causalMask(seqLen), rot), real());
    expectSameGradients(op, (q, k, v) => referenceAttention(q as tf.Tensor, k as tf.Tensor, v as tf.Tensor, shape, rot), inputs(hd));
  });

  // head size 6: the scalar JS loops; 8: the SIMD loops on wasm, and the scalar ones with them off
  it.each([
    [6, false, true],
    [6, true, true],
    [8, true, true],
    [8, true, false],
    [8, false, true],
  ])('the JS kernel (head size %i, rotary %s, SIMD %s) has the value and gradients of repeat_kv attention, separate and packed', (hd, withRotary, simd) => {
    simdLoops.enabled = simd;
    try {
      const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
      const tables = rot && { cos: rot.cosValues, sin: rot.sinValues };
      const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => referenceAttention(q, k, v, shape, rot);
      const separate = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
        tf.mul(causalSelfAttentionJs(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads, kvHeads, lengths }, tables), real());
      const packed = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
        tf.mul(causalSelfAttentionJs(tf.concat([q, k, v], 1) as tf.Tensor2D, undefined, undefined, { batch, seqLen, heads, kvHeads, lengths }, tables), real());
      expectSameGradients(separate, reference, inputs(hd));
      expectSameGradients(packed, reference, inputs(hd));
    } finally {
      simdLoops.enabled = true;
    }
  });

  it('refuses key/value heads that do not divide the query heads', () => {
    const hd = 4;
    const [q, k, v] = [random([5, 4 * hd], 1), random([5, 3 * hd], 2), random([5, 3 * hd], 3)] as tf.Tensor2D[];
    expect(() => causalSelfAttentionJs(q as tf.Tensor2D, k, v, { batch: 1, seqLen: 5, heads: 4, kvHeads: 3 })).toThrow(
      /4 query heads cannot share 3 key\/value heads/,
    );
  });
});

describe('qkvDense with grouped-query widths', () => {
  it('equals three dense projections (q 8 wide, k and v 4 wide) with the same dropout, value and every gradient', () => {
    const [inDim, r, rows] = [5, 2, 6];
    const outs = [8, 4, 4];
    const w = outs.map((out, j) => random([inDim, out], 40 + j) as tf.Tensor2D);
    const bias = outs.map((out, j) => random([out], 50 + j) as tf.Tensor1D);
    const dropout = { rate: 0.3, seeds: [7, 8, 9] };
    const separate = (x: tf.Tensor, ...ab: tf.Tensor[]): tf.Tensor =>
      tf.concat(
        outs.map((_, j) =>
          dense(x as tf.Tensor2D, {
            w: w[j] as tf.Tensor2D,
            bias: bias[j],
            train: false,
            lora: {
              a: ab[2 * j] as tf.Tensor2D,
              b: ab[2 * j + 1] as tf.Tensor2D,
              scale: 2,
              dropout: { rate: dropout.rate, seed: dropout.seeds[j] as number },
              train: true,
            },
          }),
        ),
        1,
      );
    const wCat = tf.concat(w, 1) as tf.Tensor2D;
    const fused = (x: tf.Tensor, ...ab: tf.Tensor[]): tf.Tensor =>
      qkvDense(x as tf.Tensor2D, {
        w: wCat,
        wT: () => tf.transpose(wCat),
        bias: tf.concat(bias, 0) as tf.Tensor1D,
        lora: { a: [0, 2, 4].map((n) => ab[n] as tf.Tensor2D), b: [1, 3, 5].map((n) => ab[n] as tf.Tensor2D), scale: 2, dropout, train: true },
      });
    const adapters = outs.flatMap((out, j) => [random([inDim, r], 60 + j), random([r, out], 70 + j)]);
    expectSameGradients(fused, separate, [random([rows, inDim], 80), ...adapters]);
  });
});

describe('LLaMA network with grouped-query attention', () => {
  const spec = {
    arch: 'llama' as const,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    dModel: 16,
    dFF: 12,
    maxSeqLen: 8,
    lora: { rank: 2, alpha: 4, dropout: 0, targets: ['q' as const, 'k' as const, 'v' as const, 'o' as const] },
  };

  /** The same network as multi-head attention: each key/value head's columns copied to every query head of its group. */
  function asMultiHead(base: WeightRecord, adapter: WeightRecord): { base: WeightRecord; adapter: WeightRecord } {
    const widen = (w: { shape: number[]; values: Float32Array }): { shape: number[]; values: Float32Array } => {
      const [rows, cols] = w.shape as [number, number];
      const hd = cols / spec.kvHeads;
      const out = new Float32Array(rows * hd * spec.heads);
      for (let r = 0; r < rows; r++)
        for (let h = 0; h < spec.heads; h++)
          out.set(w.values.subarray(r * cols + Math.floor(h / 2) * hd, r * cols + (Math.floor(h / 2) + 1) * hd), r * hd * spec.heads + h * hd);
      return { shape: [rows, hd * spec.heads], values: out };
    };
    const wide = (record: WeightRecord, suffix: RegExp): WeightRecord =>
      Object.fromEntries(Object.entries(record).map(([n, w]) => [n, suffix.test(n) ? widen(w) : w]));
    return { base: wide(base, /attn\.[kv]\.w$/), adapter: wide(adapter, /attn\.[kv]\.lora_b$/) };
  }

  it.each([false, true])('gives the logits of the multi-head network with repeated key/value weights (tied head %s), in every attention path', (tied) => {
    const config = resolveConfig({ ...spec, tieEmbeddings: tied }, 13);
    expect(config.kvHeads).toBe(2);
    const { base, adapter } = randomWeights(config, 5);
    expect('lm_head.w' in base).toBe(!tied);
    const grouped = TransformerNetwork.fromWeights(config, base, adapter);
    const wide = asMultiHead(base, adapter);
    const multi = TransformerNetwork.fromWeights(resolveConfig({ ...spec, kvHeads: undefined, tieEmbeddings: tied }, 13), wide.base, wide.adapter);
    const ids = Int32Array.from([1, 4, 9, 2, 7, 3, 12, 0]);
    const shape = { batch: 2, seqLen: 4 };
    const want = multi.logits(ids, shape, INFERENCE).dataSync();
    for (const simd of [true, false]) {
      simdLoops.enabled = simd;
      try {
        expectClose(grouped.logits(ids, shape, INFERENCE).dataSync(), want);
      } finally {
        simdLoops.enabled = true;
      }
    }
    grouped.dispose();
    multi.dispose();
  });
});
