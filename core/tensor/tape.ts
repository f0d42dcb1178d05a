/**
 * What a training step's differentiated blocks keep for their backward pass: kept without a
 * copy inside a withBackpropState scope, freed when it ends. Below both the models and the loss,
 * which both record such blocks.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Tensors kept for backprop by blocks recorded inside `withBackpropState`, released when it
 * returns; null outside it. A block's own intermediates are kept as they are and its inputs
 * through an alias on the same data, at no copy, where the engine's save() copies each tensor.
 */
let keptForBackprop: tf.Tensor[] | null = null;

/** The list the current scope keeps tensors in, or null outside a withBackpropState scope. */
export function backpropKept(): tf.Tensor[] | null {
  return keptForBackprop;
}

/**
 * Runs `f` (which records and differentiates blocks, e.g. a tf.variableGrads) and then frees
 * what its blocks kept for backprop. Blocks recorded outside such a scope use the engine's
 * save() instead, which copies.
 */
export function withBackpropState<T>(f: () => T): T {
  if (keptForBackprop) return f();
  keptForBackprop = [];
  try {
    return f();
  } finally {
    const kept = keptForBackprop;
    keptForBackprop = null;
    tf.dispose(kept);
  }
}

/** Keeps `t` until the current withBackpropState scope ends; false (nothing kept) outside one. */
export function keepForBackprop(t: tf.Tensor): boolean {
  if (!keptForBackprop) return false;
  keptForBackprop.push(tf.keep(t));
  return true;
}
