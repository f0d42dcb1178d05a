import type { PublicLogits } from '../../core/protocol/messages.js';

/** A one-sample, one-position payload: machines carry it, never look inside. */
export function tinyLogits(tokenizer = 'test'): PublicLogits {
  return {
    tokenizer,
    topK: 1,
    lengths: Int32Array.of(1),
    tokenIds: Int32Array.of(0),
    topKIds: Int32Array.of(0),
    topKLogits: Float32Array.of(0),
    ce: Float32Array.of(1),
  };
}
