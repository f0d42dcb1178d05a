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
    await expect(initBackend('tensorflow')).rejects.toThrow(/the requested TensorFlow.js backend 'tensorflow' could not be initialised/);
    expect(await initBackend()).toBe('wasm');
  });
});
