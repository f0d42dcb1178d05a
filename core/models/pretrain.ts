/**
 * Full-weight pretraining of a base model on plain text (next-token loss on every token), to
 * give the federated run base models that know something before LoRA takes over.
 */
import type { TrainOptions, TrainStats } from './model.js';
import { encodeTextWindows } from './sample-encoding.js';
import type { TransformerModel } from './transformer-model.js';

export async function pretrain(model: TransformerModel, corpus: readonly string[], options: TrainOptions): Promise<TrainStats> {
  const rows = corpus.flatMap((text) => encodeTextWindows(model.tokenizerImpl, text, model.config.maxSeqLen)).map((w) => model.modelRow(w));
  if (rows.length === 0) throw new Error('pretrain: the corpus has no text with at least two tokens');
  return model.trainBase(rows, options);
}
