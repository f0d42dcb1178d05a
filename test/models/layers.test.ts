import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import {
  alibiMask,
  alibiSlopes,
  causalMask,
  causalSelfAttention,
  causalSelfAttentionJs,
  dense,
  embedding,
  qkvDense,
  gelu,
  layerNorm,
  rmsNorm,
  rotaryTables,
  rotateHalfMatrix,
  swiglu,
  type RotaryInput,
} from '../../core/models/layers.js';
import { dropoutMask } from '../../core/models/lora.js';
import { Random } from '../../core/random.js';

beforeAll(async () => {
  await initBackend();
});

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, digits = 5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i] as number, digits);
}

function random(shape: number[], seed: number, offset = 0): tf.Tensor {
  const rng = new Random(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + rng.normal()),
    shape,
  );
}

/** A weighted sum, so that dy is non-uniform and transposition mistakes show. */
function objective(y: tf.Tensor, seed = 99): tf.Scalar {
  return tf.sum(tf.mul(y, random(y.shape, seed)));
}

/**
 * The gradients of objective(op(inputs)) equal those of objective(reference(inputs)), the
 * reference written with plain tfjs ops and differentiated by tfjs.
 */
function expectSameGradients(op: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], digits = 4): void {
  expectClose(op(...inputs).dataSync(), reference(...inputs).dataSync(), digits);
  const got = tf.grads((...xs: tf.Tensor[]) => objective(op(...xs)))(inputs);
  const want = tf.grads((...xs: tf.Tensor[]) => objective(reference(...xs)))(inputs);
  got.forEach((g, i) => expectClose(g.dataSync(), (want[i] as tf.Tensor).dataSync(), digits));
}

describe('dense: x W + b + LoRA', () => {
  const inputs = (rows = 5): { x: tf.Tensor2D; w: tf.Tensor2D; b: tf.Tensor1D; a: tf.Tensor2D; bl: tf.Tensor2D } => ({
    x: random([rows, 3], 1) as tf.Tensor2D,
    w: random([3, 4], 2) as tf.Tensor2D,
    b: random([4], 3) as tf.Tensor1D,
    a: random([3, 2], 4) as tf.Tensor2D,
    bl: random([2, 4], 5) as tf.Tensor2D,
  });

  // 12 inputs: the SIMD dropout on wasm (simd.ts); 15: the mask kernel
  it.each([5, 4])('has the value and every gradient of the plain formula (dropout mask with scale folded in, %i rows)', (rows) => {
    const mask = dropoutMask(rows * 3, 0.3, 7, 2);
    const { x, w, b, a, bl } = inputs(rows);
    const op = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor, as: tf.Tensor, bls: tf.Tensor): tf.Tensor =>
      dense(xs as tf.Tensor2D, {
        w: ws as tf.Tensor2D,
        bias: bs as tf.Tensor1D,
        train: true,
        lora: { a: as as tf.Tensor2D, b: bls as tf.Tensor2D, scale: 2, dropout: { rate: 0.3, seed: 7 }, train: true },
      });
    const reference = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor, as: tf.Tensor, bls: tf.Tensor): tf.Tensor =>
      tf.add(
        tf.add(tf.matMul(xs as tf.Tensor2D, ws as tf.Tensor2D), bs),
        tf.matMul(tf.matMul(tf.mul(xs, tf.tensor2d(mask, [rows, 3])) as tf.Tensor2D, as as tf.Tensor2D), bls as tf.Tensor2D),
      );
    expectSameGradients(op, reference, [x, w, b, a, bl]);
  });

  it.each([5, 4])('with a scalar scale and a cached W^T, and without bias (%i rows)', (rows) => {
    const { x, w, a, bl } = inputs(rows);
    const op = (xs: tf.Tensor, as: tf.Tensor, bls: tf.Tensor): tf.Tensor =>
      dense(xs as tf.Tensor2D, { w, wT: () => tf.transpose(w), train: false, lora: { a: as as tf.Tensor2D, b: bls as tf.Tensor2D, scale: 2, train: true } });
    const reference = (xs: tf.Tensor, as: tf.Tensor, bls: tf.Tensor): tf.Tensor =>
      tf.add(tf.matMul(xs as tf.Tensor2D, w), tf.mul(tf.matMul(tf.matMul(xs as tf.Tensor2D, as as tf.Tensor2D), bls as tf.Tensor2D), 2));
    expectSameGradients(op, reference, [x, a, bl]);
  });

  it('gives frozen weights no gradient', () => {
    const { x, w } = inputs();
    const wVar = tf.variable(w);
    const xVar = tf.variable(x);
    const { grads } = tf.variableGrads(() => objective(dense(xVar, { w: wVar, train: false })), [xVar, wVar]);
    expect(grads[wVar.name]).toBeUndefined();
    const [rx] = tf.grads((xs: tf.Tensor) => objective(tf.matMul(xs as tf.Tensor2D, w)))([x]);
    expectClose(grads[xVar.name]!.dataSync(), rx!.dataSync());
  });
});

describe('qkvDense: q, k and v as one block', () => {
  it.each([
    [false, 6],
    [true, 6],
    [true, 4],
  ])('equals three dense projections with the same dropout masks, value and every gradient (bias %s, %i rows)', (withBias, rows) => {
    const [inDim, out, r] = [5, 4, 2];
    const w = [0, 1, 2].map((j) => random([inDim, out], 40 + j) as tf.Tensor2D);
    const bias = [0, 1, 2].map((j) => random([out], 50 + j) as tf.Tensor1D);
    const dropout = { rate: 0.3, seeds: [7, 8, 9] };
    const separate = (x: tf.Tensor, ...ab: tf.Tensor[]): tf.Tensor =>
      tf.concat(
        [0, 1, 2].map((j) =>
          dense(x as tf.Tensor2D, {
            w: w[j] as tf.Tensor2D,
            bias: withBias ? bias[j] : undefined,
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
        bias: withBias ? (tf.concat(bias, 0) as tf.Tensor1D) : undefined,
        lora: { a: [0, 2, 4].map((n) => ab[n] as tf.Tensor2D), b: [1, 3, 5].map((n) => ab[n] as tf.Tensor2D), scale: 2, dropout, train: true },
      });
    const adapters = [0, 1, 2].flatMap((j) => [random([inDim, r], 60 + j), random([r, out], 70 + j)]);
    expectSameGradients(fused, separate, [random([rows, inDim], 80), ...adapters]);
  });
});

describe('embedding', () => {
  it('gradient is the scatter-add of dy into the looked-up rows', () => {
    const table = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.tensor2d([1, 10, 100, 1000, 0.5, 0.25], [3, 2]);
    expectClose(embedding(table, ids, true).dataSync(), [5, 6, 1, 2, 5, 6]);
    const [grad] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, ids, true), g)))([table]);
    // row 0 <- dy[1] = (100, 1000); row 2 <- dy[0] + dy[2] = (1.5, 10.25); rows 1 and 3 untouched
    expectClose(grad!.dataSync(), [100, 1000, 0, 0, 1.5, 10.25, 0, 0]);
  });
});

describe('normalisations and activations', () => {
  it('LayerNorm of [1, 2, 3, 4]: mean 2.5, variance 1.25', () => {
    // (x - 2.5) / sqrt(1.25) = [-1.341641, -0.447214, 0.447214, 1.341641]; gain [1, 2, 1, 1], bias [0, 0, 0, 1]
    const y = layerNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.tensor1d([1, 2, 1, 1]), tf.tensor1d([0, 0, 0, 1]), 0);
    expectClose(y.dataSync(), [-1.341641, -0.894427, 0.447214, 2.341641]);
  });

  // width 6: the kernel version; 8: the SIMD loops on wasm (simd.ts)
  it.each([6, 8])('LayerNorm gradients (input, gain, bias) are those of the formula (width %i)', (width) => {
    const reference = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
      const centred = tf.sub(x, tf.mean(x, -1, true));
      return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-5))), g), b);
    };
    const op = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, true);
    expectSameGradients(op, reference, [random([4, width], 1), random([width], 2, 1), random([width], 3)]);
  });

  it('RMSNorm of [1, 2, 3, 4]: mean square 7.5', () => {
    // x / sqrt(7.5) = x * 0.365148; gain [1, 1, 2, 1]
    const y = rmsNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.tensor1d([1, 1, 2, 1]), 0);
    expectClose(y.dataSync(), [0.365148, 0.730297, 2.19089, 1.460593]);
  });

  it.each([6, 8])('RMSNorm gradients (input, gain) are those of the formula (width %i)', (width) => {
    const reference = (x: tf.Tensor, g: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))), g);
    const op = (x: tf.Tensor, g: tf.Tensor): tf.Tensor => rmsNorm(x as tf.Tensor2D, g as tf.Tensor1D, 1e-6, true);
    expectSameGradients(op, reference, [random([4, width], 4), random([width], 5, 1)]);
  });

  // sizes that are multiples of 4 run the SIMD loops on wasm (simd.ts), the others the kernels
  it.each([5, 8])("GELU is GPT-2's tanh approximation, with its derivative (width %i)", (width) => {
    // gelu(1) = 0.5 (1 + tanh(0.797885 * 1.044715)) = 0.5 (1 + tanh(0.833563)) = 0.841192
    const xs = [-2, -0.5, 0, 1, 3, 12, -12, 0.25].slice(0, width);
    const expected = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    expect(expected[3]).toBeCloseTo(0.841192, 5);
    expectClose(gelu(tf.tensor2d([xs])).dataSync(), expected);
    const reference = (x: tf.Tensor): tf.Tensor =>
      tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
    expectSameGradients((x) => gelu(x as tf.Tensor2D), reference, [random([3, width], 6)]);
  });

  it.each([5, 8])('SwiGLU is SiLU(gate) * up, with its derivatives (width %i)', (width) => {
    // silu(1) = 1 / (1 + e^-1) = 0.731059; silu(-20) = -20 / (1 + e^20) = -4.122307e-8
    const gate = [1, 0, -20, 20, 0.5, -1, 2, 3].slice(0, width);
    const up = [2, 5, 1, 1, 1, 1, 1, 1].slice(0, width);
    expectClose(
      swiglu(tf.tensor2d([gate]), tf.tensor2d([up])).dataSync(),
      gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number)),
    );
    expectClose(swiglu(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, 5]])).dataSync(), [1.462117, 0]);
    const reference = (g: tf.Tensor, u: tf.Tensor): tf.Tensor => tf.mul(tf.mul(g, tf.sigmoid(g)), u);
    expectSameGradients((g, u) => swiglu(g as tf.Tensor2D, u as tf.Tensor2D), reference, [random([3, width], 7), random([3, width], 8)]);
  });
});

/** ALiBi's penalty -slope_h (i - j) on the causal pairs, written out here by itself: [heads, t, t]. */
function alibiPenalties(seqLen: number, slopes: readonly number[]): tf.Tensor {
  const values: number[] = [];
  for (const m of slopes) for (let i = 0; i < seqLen; i++) for (let j = 0; j < seqLen; j++) values.push(j <= i ? -m * (i - j) : 0);
  return tf.tensor3d(values, [slopes.length, seqLen, seqLen]);
}

/** Plain tfjs attention over [batch*t, heads*hd] inputs, optionally rotary (rotate-half by split/concat) or with ALiBi slopes. */
function referenceAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  batch: number,
  seqLen: number,
  heads: number,
  rotary?: { cos: tf.Tensor; sin: tf.Tensor },
  slopes?: readonly number[],
): tf.Tensor {
  const hd = (q.shape[1] as number) / heads;
  const split = (x: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(x, [batch, seqLen, heads, hd]), [0, 2, 1, 3]);
  const rotate = (x: tf.Tensor): tf.Tensor => {
    if (!rotary) return x;
    const [a, b] = tf.split(x, 2, 3);
    return tf.add(tf.mul(x, rotary.cos), tf.mul(tf.concat([tf.neg(b as tf.Tensor), a as tf.Tensor], 3), rotary.sin));
  };
  const scores = tf.div(tf.matMul(rotate(split(q)) as tf.Tensor4D, rotate(split(k)) as tf.Tensor4D, false, true), Math.sqrt(hd));
  const biased = slopes ? tf.add(scores, alibiPenalties(seqLen, slopes)) : scores;
  const p = tf.softmax(tf.add(biased, causalMask(seqLen)));
  const o = tf.matMul(p as tf.Tensor4D, split(v) as tf.Tensor4D);
  return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [batch * seqLen, heads * hd]);
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

describe('causal self-attention', () => {
  it('lets position 0 see only itself and weights position 1 by softmax(q k)', () => {
    // head dim 1, q = [1, 1], k = [0, ln3], v = [2, 6]
    // row 0: only key 0 -> 2.  row 1: softmax([0, ln3]) = [1/4, 3/4] -> 0.5 + 4.5 = 5
    const q = tf.tensor2d([[1], [1]]);
    const k = tf.tensor2d([[0], [Math.log(3)]]);
    const v = tf.tensor2d([[2], [6]]);
    expectClose(causalSelfAttention(q, k, v, { batch: 1, seqLen: 2, heads: 1 }, causalMask(2)).dataSync(), [2, 5]);
  });

  it('rotary tables rotate pair (i, i + hd/2) by p * theta^(-2i/hd)', () => {
    // head dim 4, theta 10000: frequencies 1 and 10000^(-1/2) = 0.01. Position 2: angles 2 and 0.02.
    const { cos, sin } = rotaryTables(3, 4, 10000);
    const c = cos.dataSync();
    const s = sin.dataSync();
    expectClose([c[8], c[9], c[10], c[11]] as number[], [Math.cos(2), Math.cos(0.02), Math.cos(2), Math.cos(0.02)]);
    expectClose([s[8], s[9], s[10], s[11]] as number[], [Math.sin(2), Math.sin(0.02), Math.sin(2), Math.sin(0.02)]);
    // x R = rotateHalf(x) = [-x3, -x4, x1, x2]
    expectClose(tf.matMul(tf.tensor2d([[1, 2, 3, 4]]), rotateHalfMatrix(4)).dataSync(), [-3, -4, 1, 2]);
  });

  it.each([false, true])('has the value and gradients of the plain formula (rotary %s, 2 sequences, 2 heads)', (withRotary) => {
    const [batch, seqLen, heads, hd] = [2, 4, 2, 4];
    const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      causalSelfAttention(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads }, causalMask(seqLen), rot);
    const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => referenceAttention(q, k, v, batch, seqLen, heads, rot);
    const shape = [batch * seqLen, heads * hd];
    expectSameGradients(op, reference, [random(shape, 11), random(shape, 12), random(shape, 13)]);
  });

  it.each([
    [false, 4],
    [true, 4],
    [false, 8],
    [true, 12],
  ])('the JS kernel skips padded queries and keeps every real output and gradient (rotary %s, head size %i)', (withRotary, hd) => {
    const [batch, seqLen, heads] = [3, 5, 2];
    const lengths = [5, 2, 3];
    const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
    // objective over real rows only: padded rows' outputs are unspecified
    const real = tf.tensor2d(
      Float32Array.from({ length: batch * seqLen }, (_, r) => (r % seqLen < (lengths[Math.floor(r / seqLen)] as number) ? 1 : 0)),
      [batch * seqLen, 1],
    );
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      tf.mul(
        causalSelfAttentionJs(
          q as tf.Tensor2D,
          k as tf.Tensor2D,
          v as tf.Tensor2D,
          { batch, seqLen, heads, lengths },
          rot && { cos: rot.cosValues, sin: rot.sinValues },
        ),
        real,
      );
    const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => tf.mul(referenceAttention(q, k, v, batch, seqLen, heads, rot), real);
    const shape = [batch * seqLen, heads * hd];
    expectSameGradients(op, reference, [random(shape, 31), random(shape, 32), random(shape, 33)]);
  });

  it.each([false, true])('the JS kernel takes q | k | v packed and gives their gradient packed (rotary %s)', (withRotary) => {
    const [batch, seqLen, heads, hd] = [2, 4, 2, 4];
    const lengths = [4, 3];
    const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
    const real = tf.tensor2d(
      Float32Array.from({ length: batch * seqLen }, (_, r) => (r % seqLen < (lengths[Math.floor(r / seqLen)] as number) ? 1 : 0)),
      [batch * seqLen, 1],
    );
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      tf.mul(
        causalSelfAttentionJs(
          tf.concat([q, k, v], 1) as tf.Tensor2D,
          undefined,
          undefined,
          { batch, seqLen, heads, lengths },
          rot && { cos: rot.cosValues, sin: rot.sinValues },
        ),
        real,
      );
    const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => tf.mul(referenceAttention(q, k, v, batch, seqLen, heads, rot), real);
    const shape = [batch * seqLen, heads * hd];
    expectSameGradients(op, reference, [random(shape, 41), random(shape, 42), random(shape, 43)]);
  });

  it('ALiBi slopes: 2^(-8/n) ... for n a power of two, else filled from 2n (as BLOOM)', () => {
    expectClose(
      alibiSlopes(8),
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => 2 ** -i),
    );
    expectClose(alibiSlopes(6), [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]);
    expectClose(alibiSlopes(1), [2 ** -8]);
  });

  it('with ALiBi: the tfjs block (mask plus penalties) and the JS kernels (head sizes 4: SIMD, 6: scalar) have the value and gradients of the formula', () => {
    const [batch, seqLen, heads] = [2, 5, 2];
    const slopes = [0.5, 0.125];
    const lengths = [5, 3];
    const real = tf.tensor2d(
      Float32Array.from({ length: batch * seqLen }, (_, r) => (r % seqLen < (lengths[Math.floor(r / seqLen)] as number) ? 1 : 0)),
      [batch * seqLen, 1],
    );
    for (const hd of [4, 6]) {
      const shape = [batch * seqLen, heads * hd];
      const inputs = [random(shape, 51), random(shape, 52), random(shape, 53)];
      const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
        tf.mul(referenceAttention(q, k, v, batch, seqLen, heads, undefined, slopes), real);
      const block = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
        tf.mul(
          causalSelfAttention(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads }, alibiMask(seqLen, Float32Array.from(slopes))),
          real,
        );
      const kernel = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
        tf.mul(
          causalSelfAttentionJs(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads, lengths }, undefined, Float32Array.from(slopes)),
          real,
        );
      expectSameGradients(block, reference, inputs);
      expectSameGradients(kernel, reference, inputs);
    }
  });

  it.each([false, true])('the JS kernel has the same value and gradients (rotary %s, 3 sequences, 2 heads)', (withRotary) => {
    const [batch, seqLen, heads, hd] = [3, 5, 2, 6];
    const rot = withRotary ? rotaryInput(seqLen, hd) : undefined;
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      causalSelfAttentionJs(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, { batch, seqLen, heads }, rot && { cos: rot.cosValues, sin: rot.sinValues });
    const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor => referenceAttention(q, k, v, batch, seqLen, heads, rot);
    const shape = [batch * seqLen, heads * hd];
    expectSameGradients(op, reference, [random(shape, 21), random(shape, 22), random(shape, 23)]);
  });
});

describe('LoRA dropout mask', () => {
  it('zeroes about `rate` of the inputs, scales the rest by scale / (1 - rate), and repeats per seed', () => {
    const a = dropoutMask(5000, 0.2, 7, 2);
    const zeros = a.filter((v) => v === 0).length;
    expect(zeros / a.length).toBeGreaterThan(0.17);
    expect(zeros / a.length).toBeLessThan(0.23);
    expect(a.every((v) => v === 0 || Math.abs(v - 2.5) < 1e-6)).toBe(true);
    expect(Array.from(dropoutMask(5000, 0.2, 7, 2))).toEqual(Array.from(a));
    expect(Array.from(dropoutMask(5000, 0.2, 8, 2))).not.toEqual(Array.from(a));
  });

  it('drops independently: adjacent pairs both dropped at rate^2', () => {
    let both = 0;
    let pairs = 0;
    for (let seed = 0; seed < 40; seed++) {
      const m = dropoutMask(5000, 0.3, seed);
      for (let i = 0; i + 1 < m.length; i++, pairs++) if (m[i] === 0 && m[i + 1] === 0) both++;
    }
    expect(both / pairs).toBeGreaterThan(0.085);
    expect(both / pairs).toBeLessThan(0.095);
  });
});
