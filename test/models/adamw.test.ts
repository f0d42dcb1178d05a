import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../core/models/adamw.js';
import { initBackend } from '../../core/models/backend.js';
import { simdLoops } from '../../core/models/simd.js';
import { Random } from '../../core/random.js';

beforeAll(async () => {
  await initBackend();
});

afterEach(() => {
  simdLoops.enabled = true;
});

function randomValues(n: number, seed: number, sd = 1): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => sd * rng.normal());
}

describe('AdamW', () => {
  it('first step: w (1 - lr wd) - lr g / |g| (bias-corrected moments of one gradient)', () => {
    const w = tf.variable(tf.tensor1d([1, -2, 0.5, 3]));
    const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.1 }, [w]);
    // norm 0.5 < 1: no clipping
    opt.apply([[w, tf.tensor1d([0.25, -0.25, 0.25, -0.25])]]);
    const got = Array.from(w.dataSync());
    [0.99 - 0.1, -1.98 + 0.1, 0.495 - 0.1, 2.97 + 0.1].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 5));
    opt.dispose();
  });

  it('the SIMD loop on wasm (simd.ts) follows the JS update step by step, clipping included', () => {
    const shapes: Array<[number, number]> = [
      [16, 8],
      [8, 12],
    ];
    const run = (simd: boolean): Float32Array[] => {
      simdLoops.enabled = simd;
      const vars = shapes.map((s, i) => {
        const init = tf.tensor2d(randomValues(s[0] * s[1], 1 + i), s);
        const v = tf.variable(init);
        init.dispose();
        return v;
      });
      const opt = new AdamW({ learningRate: 0.01 }, [vars[0] as tf.Variable]);
      for (let step = 0; step < 5; step++) {
        // large gradients at odd steps: the global norm is clipped
        const grads = vars.map((v, i) => tf.tensor2d(randomValues(v.size, 100 + 10 * step + i, step % 2 ? 1 : 0.01), v.shape as [number, number]));
        opt.apply(vars.map((v, i) => [v, grads[i] as tf.Tensor] as const));
        tf.dispose(grads);
      }
      opt.dispose();
      const out = vars.map((v) => v.dataSync() as Float32Array);
      tf.dispose(vars);
      return out;
    };
    const before = tf.memory().numTensors;
    const simd = run(true);
    const js = run(false);
    expect(tf.memory().numTensors).toBe(before);
    simd.forEach((values, i) => {
      const want = js[i] as Float32Array;
      for (let j = 0; j < values.length; j++) expect(values[j]).toBeCloseTo(want[j] as number, 5);
    });
  });
});
