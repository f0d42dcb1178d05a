import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import {
  applyRotary,
  causalAttention,
  causalMask,
  embedding,
  frozenLinear,
  gelu,
  layerNorm,
  linear,
  rmsNorm,
  rotaryTables,
} from '../../core/models/layers.js';
import { dropout } from '../../core/models/lora.js';

beforeAll(async () => {
  await initBackend();
});

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, digits = 5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i] as number, digits);
}

function productCase(): { x: tf.Tensor2D; w: tf.Tensor2D; objective: (y: tf.Tensor) => tf.Scalar } {
  const dy = tf.tensor2d([1, -0.5, 2, 0.25], [2, 2]);
  return {
    x: tf.tensor2d([0.5, -1, 2, 0.25, 3, -0.5], [2, 3]),
    w: tf.tensor2d([1, -2, 0.5, 0.75, -1, 1.5], [3, 2]),
    // a weighted sum makes dy non-uniform, so transposition mistakes show
    objective: (y) => tf.sum(tf.mul(y, dy)),
  };
}

describe('custom-gradient products', () => {
  it('linear has the value and both gradients of tf.matMul', () => {
    const { x, w, objective } = productCase();
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => objective(linear(a as tf.Tensor2D, b as tf.Tensor2D)))([x, w]);
    const [rx, rw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => objective(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)))([x, w]);
    expectClose(linear(x, w).dataSync(), tf.matMul(x, w).dataSync());
    expectClose(gx!.dataSync(), rx!.dataSync());
    expectClose(gw!.dataSync(), rw!.dataSync());
  });

  it('frozenLinear passes the gradient to x and none to W', () => {
    const { x, w, objective } = productCase();
    const wVar = tf.variable(w);
    const xVar = tf.variable(x);
    const { grads } = tf.variableGrads(() => objective(frozenLinear(xVar, wVar)), [xVar, wVar]);
    const [rx] = tf.grads((a: tf.Tensor) => objective(tf.matMul(a as tf.Tensor2D, w)))([x]);
    expectClose(grads[xVar.name]!.dataSync(), rx!.dataSync());
    expect(grads[wVar.name]).toBeUndefined();
  });

  it('embedding gradient is the scatter-add of dy into the looked-up rows', () => {
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

  it('RMSNorm of [1, 2, 3, 4]: mean square 7.5', () => {
    // x / sqrt(7.5) = x * 0.365148; gain [1, 1, 2, 1]
    const y = rmsNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.tensor1d([1, 1, 2, 1]), 0);
    expectClose(y.dataSync(), [0.365148, 0.730297, 2.19089, 1.460593]);
  });

  it("GELU is GPT-2's tanh approximation", () => {
    // gelu(1) = 0.5 (1 + tanh(0.797885 * 1.044715)) = 0.5 (1 + tanh(0.833563)) = 0.841192
    const xs = [-2, -0.5, 0, 1, 3];
    const expected = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    expect(expected[3]).toBeCloseTo(0.841192, 5);
    expectClose(gelu(tf.tensor2d([xs])).dataSync(), expected);
  });
});

describe('rotary positions', () => {
  it('rotates pair (i, i + hd/2) by p * theta^(-2i/hd)', () => {
    // head dim 4, theta 10000: frequencies 1 and 10000^(-1/2) = 0.01. Position 2: angles 2 and 0.02.
    // x = [1, 2, 3, 4] pairs (x0, x2) = (1, 3) and (x1, x3) = (2, 4):
    //   out0 = 1 cos2 - 3 sin2,   out2 = 3 cos2 + 1 sin2
    //   out1 = 2 cos0.02 - 4 sin0.02,   out3 = 4 cos0.02 + 2 sin0.02
    const { cos, sin } = rotaryTables(3, 4, 10000);
    const x = tf.tensor3d([[[0, 0, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]]]);
    const out = applyRotary(x, cos, sin).dataSync().slice(8, 12);
    const c2 = Math.cos(2), s2 = Math.sin(2), c = Math.cos(0.02), s = Math.sin(0.02);
    expectClose(out, [c2 - 3 * s2, 2 * c - 4 * s, 3 * c2 + s2, 4 * c + 2 * s]);
    expectClose(out, [-3.144039, 1.919605, -0.339144, 4.039197]);
  });
});

describe('causal attention', () => {
  it('lets position 0 see only itself and weights position 1 by softmax(q k)', () => {
    // head dim 1, q = [1, 1], k = [0, ln3], v = [2, 6]
    // row 0: only key 0 -> 2.  row 1: softmax([0, ln3]) = [1/4, 3/4] -> 0.5 + 4.5 = 5
    const q = tf.tensor3d([[[1], [1]]]);
    const k = tf.tensor3d([[[0], [Math.log(3)]]]);
    const v = tf.tensor3d([[[2], [6]]]);
    expectClose(causalAttention(q, k, v, causalMask(2)).dataSync(), [2, 5]);
  });
});

describe('LoRA dropout', () => {
  it('zeroes about `rate` of the inputs, scales the rest by 1 / (1 - rate), and repeats per seed', () => {
    const x = tf.ones([100, 50]) as tf.Tensor2D;
    const a = dropout(x, 0.2, 7).dataSync();
    const zeros = a.filter((v) => v === 0).length;
    expect(zeros / a.length).toBeGreaterThan(0.17);
    expect(zeros / a.length).toBeLessThan(0.23);
    expect(a.every((v) => v === 0 || Math.abs(v - 1.25) < 1e-6)).toBe(true);
    expect(Array.from(dropout(x, 0.2, 7).dataSync())).toEqual(Array.from(a));
    expect(Array.from(dropout(x, 0.2, 8).dataSync())).not.toEqual(Array.from(a));
  });
});
