/**
 * One node on the gradient tape with per-input lazy gradients (see layers.ts): what every block of
 * layers.ts and the attention kernels is built on.
 */
import * as tf from '@tensorflow/tfjs';
import { alias } from '../tensor/kernels.js';
import { backpropKept } from '../tensor/tape.js';

/** Tensors a block's backward needs, by name (kept for backprop, see block). */
export type Saved = Record<string, tf.Tensor>;

export interface BlockForward<T extends tf.Tensor> {
  value: T;
  save?: Saved;
  /**
   * Called once by backprop with the output gradient: does the work several input gradients
   * share, then returns one thunk per input (in input order) that computes that input's
   * gradient; backprop calls only the thunks of inputs it needs.
   */
  backward: (dy: tf.Tensor, saved: Saved) => Array<() => tf.Tensor>;
}

interface KernelFuncParams {
  forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
  backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<number, () => tf.Tensor>;
  inputs: Record<number, tf.Tensor>;
}

/** The engine entry point under tf.customGrad, which also takes lazy gradients. */
function engineRunKernelFunc(): ((params: KernelFuncParams) => tf.Tensor) | undefined {
  const engine = tf.engine() as unknown as { runKernelFunc?: (params: KernelFuncParams) => tf.Tensor };
  return typeof engine.runKernelFunc === 'function' ? engine.runKernelFunc.bind(engine) : undefined;
}

function isTapeOn(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/**
 * Runs `forward` as one differentiable op of `inputs`. Inside `forward` nothing is recorded on
 * the tape; anything `backward` needs must be an input, a value in `save`, or a tensor that
 * outlives the step (a variable or a cached constant).
 */
export function block<T extends tf.Tensor>(inputs: readonly tf.Tensor[], forward: () => BlockForward<T>): T {
  let spec: BlockForward<T> | undefined;
  let names: string[] = [];
  const kept = isTapeOn() ? backpropKept() : null;
  let aliases: tf.Tensor[] = [];
  const forwardFunc = (save: (tensors: tf.Tensor[]) => void): T => {
    spec = forward();
    names = Object.keys(spec.save ?? {});
    if (names.length > 0) {
      const saved = spec.save as Saved;
      const tensors = names.map((n) => saved[n] as tf.Tensor);
      if (kept) {
        // the block's own intermediates are kept as they are; inputs and persistent tensors
        // (variables, cached constants) through an alias, so that releasing does not free them
        aliases = tensors.map((t) => tf.keep(inputs.includes(t) || t.kept || t instanceof tf.Variable ? alias(t) : t));
        kept.push(...aliases);
      } else save(tensors);
    }
    return spec.value;
  };
  const thunks = (dy: tf.Tensor, saved: tf.Tensor[]): Array<() => tf.Tensor> => {
    const byName: Saved = {};
    const values = kept ? aliases : saved;
    names.forEach((n, i) => (byName[n] = values[i] as tf.Tensor));
    const out = (spec as BlockForward<T>).backward(dy, byName);
    if (out.length !== inputs.length) throw new Error(`block: backward returned ${out.length} gradients for ${inputs.length} inputs`);
    return out;
  };
  const run = engineRunKernelFunc();
  if (run) {
    const inputMap: Record<number, tf.Tensor> = {};
    inputs.forEach((t, i) => (inputMap[i] = t));
    return run({
      forwardFunc: (_backend, save) => forwardFunc(save),
      backwardsFunc: (dy, saved) => {
        const map: Record<number, () => tf.Tensor> = {};
        thunks(dy, saved).forEach((t, i) => (map[i] = t));
        return map;
      },
      inputs: inputMap,
    }) as T;
  }
  // Fallback for an engine without runKernelFunc: every gradient, computed eagerly.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return {
      value: forwardFunc((ts) => save(ts)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => thunks(dy as tf.Tensor, saved).map((t) => t()),
    };
  });
  return op(...inputs) as T;
}
