import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../core/models/backend.js';

describe('initBackend', () => {
  it('falls back to wasm when no native bindings can be imported, and is idempotent', async () => {
    // @tensorflow/tfjs-node(-gpu) cannot be installed on this machine
    expect(await initBackend()).toBe('wasm');
    expect(await initBackend()).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('honours an explicit override, keeping earlier tensors usable', async () => {
    const t = tf.tensor1d([1, 2, 3]);
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(Array.from(tf.mul(t, 2).dataSync())).toEqual([2, 4, 6]);
    expect(await initBackend('wasm')).toBe('wasm');
  });

  it('names a bad backend and fails clearly when one cannot start', async () => {
    await expect(initBackend('gpu' as BackendName)).rejects.toThrow(/unknown TensorFlow.js backend 'gpu'; expected one of tensorflow, wasm, cpu/);
    // Without @tensorflow/tfjs-node: how to install it, and what that needs.
    await expect(initBackend('tensorflow')).rejects.toThrow(
      /neither @tensorflow\/tfjs-node nor @tensorflow\/tfjs-node-gpu is installed\. Install it with `npm install @tensorflow\/tfjs-node@4\.22\.0` .*downloads TensorFlow's C library \(libtensorflow\).*node-gyp \(Python 3, make and a C\+\+ compiler\).*--backend wasm/,
    );
    expect(await initBackend()).toBe('wasm');
  });
});
