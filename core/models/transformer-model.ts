/**
 * A transformer language model with LoRA adapters behind the LanguageModel seam: it speaks
 * tokenizer ids and text to the protocol, model-vocabulary ids to its network.
 */
import * as tf from '@tensorflow/tfjs';
import { TeacherSource, type AlignedTeacher } from '../alignment/aligned-teacher.js';
import { EMPTY_SLOT, fedmktTrainingLoss, SparseTeacherBuilder, supervisedLoss } from '../learning/loss.js';
import type { PublicLogits } from '../protocol/messages.js';
import { Random } from '../random.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, writeCheckpoint } from './checkpoint.js';
import { batchIndices, padBatch, type ModelRow, type PaddedBatch } from './batching.js';
import type { TransformerConfig } from './config.js';
import type { AdapterWeights, ChoiceItem, ChoiceScores, DistillOptions, LanguageModel, TextSample, TrainOptions, TrainStats } from './model.js';
import { INFERENCE, type TransformerNetwork } from './network.js';
import { checkpointHash } from './pretrained/open.js';
import { encodeSample, type EncodedSample } from './sample-encoding.js';
import type { ModelSpec } from './spec.js';
import type { TrainedWeights } from './flops.js';
import { checkTrainOptions, optimise } from './training.js';
import { MODEL_UNK, type ModelVocab } from './vocab.js';

/** Logit cells (rows x vocab) one scoring batch may hold. */
const SCORING_CELLS = 1 << 22;

export interface GenerateOptions {
  maxNewTokens: number;
}

export class TransformerModel implements LanguageModel {
  readonly tokenizer: string;
  /** Random-consuming calls so far: each draws its streams from (seed, call index), so a
   * model restored from a checkpoint continues exactly as the saved one would have. */
  private calls: number;

  /** Whether the base weights changed since they were loaded from a pretrained checkpoint. */
  private baseChanged = false;

  constructor(
    readonly spec: ModelSpec,
    readonly tokenizerImpl: Tokenizer,
    readonly vocab: ModelVocab,
    readonly network: TransformerNetwork,
    readonly seed: number,
    calls = 0,
    /** The pretrained checkpoint (spec.checkpoint) the base weights were loaded from, if any. */
    readonly pretrained?: { checkpoint: string },
  ) {
    if (vocab.tokenizer !== tokenizerImpl.name) {
      throw new Error(`TransformerModel: vocabulary is for tokenizer '${vocab.tokenizer}', not '${tokenizerImpl.name}'`);
    }
    if (network.config.vocabSize !== vocab.size) {
      throw new Error(`TransformerModel: network has ${network.config.vocabSize} vocabulary rows, vocabulary has ${vocab.size}`);
    }
    this.tokenizer = tokenizerImpl.name;
    this.calls = calls;
  }

  get config(): TransformerConfig {
    return this.network.config;
  }

  /** Random-consuming calls made so far (saved in checkpoints). */
  get callCount(): number {
    return this.calls;
  }

  /** The sample encoding every method uses. */
  encode(sample: TextSample): EncodedSample {
    return encodeSample(this.tokenizerImpl, sample, this.config.maxSeqLen);
  }

  async trainEpochs(samples: readonly TextSample[], options: TrainOptions): Promise<TrainStats> {
    checkTrainOptions(options, 'trainEpochs');
    const rows = samples.map((s) => this.modelRow(this.encode(s)));
    return this.optimiseRows(rows, options, 'adapters', 'train', (logits, batch) => supervisedLoss(logits, batch.targets, batch.ceMask));
  }

  async distillEpochs(samples: readonly TextSample[], teacher: AlignedTeacher, options: DistillOptions): Promise<TrainStats> {
    checkTrainOptions(options, 'distillEpochs');
    if (!(options.kdAlpha >= 0 && options.kdAlpha <= 1)) throw new Error(`distillEpochs: kdAlpha must be in [0, 1], got ${options.kdAlpha}`);
    if (!(options.temperature > 0)) throw new Error(`distillEpochs: temperature must be positive, got ${options.temperature}`);
    const encoded = samples.map((s) => this.encode(s));
    const offsets = this.checkTeacher(teacher, encoded);
    const teacherIds = Int32Array.from(teacher.topKIds, (id) => (id < 0 ? EMPTY_SLOT : this.vocab.toModel(id)));
    const rows = encoded.map((e) => this.modelRow(e));
    const k = teacher.topK;
    return this.optimiseRows(rows, options, 'adapters', 'distill', (logits, batch) => {
      const sparse = new SparseTeacherBuilder(batch.batch * batch.seqLen);
      batch.indices.forEach((sampleIndex, b) => {
        const offset = offsets[sampleIndex] as number;
        for (let t = 0; t < (batch.lengths[b] as number); t++) {
          const pos = offset + t;
          if (teacher.source[pos] === TeacherSource.None) continue;
          const ids = teacherIds.subarray(pos * k, (pos + 1) * k);
          const logitsOfSlots = teacher.topKLogits.subarray(pos * k, (pos + 1) * k);
          sparse.addRow(b * batch.seqLen + t, ids, logitsOfSlots, options.temperature);
        }
      });
      return fedmktTrainingLoss(logits, { targets: batch.targets, ceMask: batch.ceMask, teacher: sparse.build() }, options.kdAlpha);
    });
  }

  async scorePublic(samples: readonly TextSample[], topK: number): Promise<PublicLogits> {
    if (!Number.isInteger(topK) || topK < 1) throw new Error(`scorePublic: topK must be a positive integer, got ${topK}`);
    const encoded = samples.map((s) => this.encode(s));
    const lengths = Int32Array.from(encoded, (e) => e.ids.length);
    const total = lengths.reduce((a, b) => a + b, 0);
    const out: PublicLogits = {
      tokenizer: this.tokenizer,
      topK,
      lengths,
      tokenIds: Int32Array.from(encoded.flatMap((e) => e.ids)),
      topKIds: new Int32Array(total * topK).fill(EMPTY_SLOT),
      topKLogits: new Float32Array(total * topK).fill(-Infinity),
      ce: new Float32Array(samples.length),
    };
    const offsets = prefixSums(lengths);
    const rows = encoded.map((e) => this.modelRow(e));
    const k = Math.min(topK, this.config.vocabSize);
    // Without a tokenizer unk the model unk has no id to report; rank it last so it is never emitted.
    const hideUnk = !this.vocab.unkHasTokenizerId;
    for (const batch of this.scoringBatches(rows)) {
      const { values, indices, targetLogp } = this.topKAndTargetLogp(batch, k, hideUnk);
      batch.indices.forEach((sampleIndex, b) => {
        const len = batch.lengths[b] as number;
        const offset = offsets[sampleIndex] as number;
        for (let t = 0; t < len; t++) {
          const src = (b * batch.seqLen + t) * k;
          const dst = (offset + t) * topK;
          for (let j = 0; j < k; j++) {
            const modelId = indices[src + j] as number;
            const logit = values[src + j] as number;
            if (logit === -Infinity || (hideUnk && modelId === MODEL_UNK)) continue;
            out.topKIds[dst + j] = this.vocab.toTokenizer(modelId);
            out.topKLogits[dst + j] = logit;
          }
        }
        out.ce[sampleIndex] = -answerLogLikelihood(targetLogp, batch, b) / len;
      });
    }
    return out;
  }

  async scoreChoices(items: readonly ChoiceItem[]): Promise<ChoiceScores> {
    const pairs: { item: number; choice: number }[] = [];
    const rows: ModelRow[] = [];
    items.forEach((item, i) => {
      if (item.choices.length === 0) throw new Error(`scoreChoices: item ${i} has no choices`);
      item.choices.forEach((choice, c) => {
        pairs.push({ item: i, choice: c });
        rows.push(this.modelRow(this.encode({ prompt: item.prompt, answer: choice })));
      });
    });
    const logLikelihood = items.map((item) => new Array<number>(item.choices.length).fill(0));
    for (const batch of this.scoringBatches(rows)) {
      const targetLogp = this.targetLogp(batch);
      batch.indices.forEach((rowIndex, b) => {
        const pair = pairs[rowIndex] as { item: number; choice: number };
        (logLikelihood[pair.item] as number[])[pair.choice] = answerLogLikelihood(targetLogp, batch, b);
      });
    }
    return { logLikelihood, choiceChars: items.map((item) => item.choices.map((c) => c.length)) };
  }

  /** Greedy continuation of each prompt, stopping at eos or after maxNewTokens. */
  async generate(prompts: readonly string[], options: GenerateOptions): Promise<string[]> {
    const { maxNewTokens } = options;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new Error(`generate: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
    }
    if (maxNewTokens >= this.config.maxSeqLen) {
      throw new Error(`generate: maxNewTokens ${maxNewTokens} leaves no room for a prompt in maxSeqLen ${this.config.maxSeqLen}`);
    }
    const eos = this.tokenizerImpl.specials.eos;
    const outputs: string[] = [];
    for (const prompt of prompts) {
      const start = encodeSample(this.tokenizerImpl, { prompt, answer: '' }, this.config.maxSeqLen - maxNewTokens).ids;
      const ids = this.vocab.encode(start);
      const generated: number[] = [];
      let sequence = Array.from(ids);
      for (let step = 0; step < maxNewTokens; step++) {
        const next = this.greedyNext(Int32Array.from(sequence));
        const tokId = this.vocab.toTokenizer(next);
        if (eos !== undefined && tokId === eos) break;
        generated.push(tokId);
        sequence = [...sequence, next];
      }
      outputs.push(this.tokenizerImpl.decode(generated));
      await new Promise((resolve) => setImmediate(resolve));
    }
    return outputs;
  }

  getAdapter(): AdapterWeights {
    return this.network.exportAdapter();
  }

  setAdapter(weights: AdapterWeights): void {
    this.network.setAdapter(weights);
  }

  /** Fold the adapters into the base weights and start fresh adapters (B = 0). */
  mergeAdapter(): void {
    this.network.mergeAdapters(this.nextSeed('merge'));
    this.baseChanged = true;
  }

  /** Base and adapter apart; a base still equal to its pretrained checkpoint is named, not written. */
  async save(dir: string): Promise<void> {
    const named = this.pretrained && !this.baseChanged;
    await writeCheckpoint(dir, {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      spec: this.spec,
      config: this.config,
      tokenizer: { name: this.tokenizerImpl.name, contentHash: this.tokenizerImpl.contentHash },
      vocab: this.vocab.tokenizerIds(),
      seed: this.seed,
      calls: this.calls,
      ...(named
        ? { pretrainedBase: { checkpoint: this.pretrained.checkpoint, sha256: checkpointHash(this.pretrained.checkpoint) } }
        : { base: this.network.exportBase() }),
      adapter: this.network.exportAdapter(),
    });
  }

  dispose(): void {
    this.network.dispose();
  }

  /** Full-weight optimisation of the base (pretraining); adapters stay fixed. */
  async trainBase(rows: readonly ModelRow[], options: TrainOptions): Promise<TrainStats> {
    checkTrainOptions(options, 'trainBase');
    this.baseChanged = true;
    return this.optimiseRows(rows, options, 'base', 'pretrain', (logits, batch) => supervisedLoss(logits, batch.targets, batch.ceMask));
  }

  modelRow(e: EncodedSample): ModelRow {
    return { ids: this.vocab.encode(e.ids), answerStart: e.answerStart };
  }

  private optimiseRows(
    rows: readonly ModelRow[],
    options: TrainOptions,
    trained: TrainedWeights,
    purpose: string,
    lossOf: (logits: tf.Tensor2D, batch: PaddedBatch) => tf.Scalar,
  ): Promise<TrainStats> {
    return optimise(this.network, rows, options, trained, this.nextSeed(purpose), lossOf);
  }

  private nextSeed(purpose: string): number {
    const seed = Random.stream(this.seed, `${purpose}:${this.calls}`).int(2 ** 32);
    this.calls++;
    return seed;
  }

  private checkTeacher(teacher: AlignedTeacher, encoded: readonly EncodedSample[]): Int32Array {
    const where = `distillEpochs (tokenizer '${this.tokenizer}')`;
    if (teacher.tokenizer !== this.tokenizer) {
      throw new Error(`${where}: teacher is aligned to tokenizer '${teacher.tokenizer}', not this model's '${this.tokenizer}'`);
    }
    if (!Number.isInteger(teacher.topK) || teacher.topK < 1) throw new Error(`${where}: teacher topK must be positive, got ${teacher.topK}`);
    if (teacher.lengths.length !== encoded.length) {
      throw new Error(`${where}: teacher covers ${teacher.lengths.length} samples, but ${encoded.length} samples were given`);
    }
    encoded.forEach((e, i) => {
      if (teacher.lengths[i] !== e.ids.length) {
        throw new Error(
          `${where}: sample ${i} has ${e.ids.length} tokens in this model's tokenisation, but the teacher has ${teacher.lengths[i]} positions for it`,
        );
      }
    });
    const positions = encoded.reduce((n, e) => n + e.ids.length, 0);
    const expect = (name: string, actual: number, wanted: number): void => {
      if (actual !== wanted) throw new Error(`${where}: teacher ${name} has ${actual} entries, expected ${wanted}`);
    };
    expect('topKIds', teacher.topKIds.length, positions * teacher.topK);
    expect('topKLogits', teacher.topKLogits.length, positions * teacher.topK);
    expect('source', teacher.source.length, positions);
    teacher.source.forEach((s, p) => {
      if (s !== TeacherSource.None && s !== TeacherSource.Teacher && s !== TeacherSource.Fallback) {
        throw new Error(`${where}: teacher source ${s} at position ${p} is not a TeacherSource`);
      }
    });
    return prefixSums(teacher.lengths);
  }

  private scoringBatches(rows: readonly ModelRow[]): PaddedBatch[] {
    const longest = Math.max(1, ...rows.map((r) => r.ids.length));
    const size = Math.max(1, Math.min(64, Math.floor(SCORING_CELLS / (longest * this.config.vocabSize))));
    return batchIndices(rows.length, size).map((indices) => padBatch(rows, indices));
  }

  /** log p(target) at every position of a batch, [batch * seqLen]. */
  private targetLogp(batch: PaddedBatch): Float32Array {
    const t = tf.tidy(() => {
      const logits = this.network.logits(batch.ids, batch, INFERENCE);
      return gatherTargets(tf.logSoftmax(logits), batch.targets);
    });
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  }

  private topKAndTargetLogp(batch: PaddedBatch, k: number, hideUnk: boolean): { values: Float32Array; indices: Int32Array; targetLogp: Float32Array } {
    const [values, indices, targetLogp] = tf.tidy(() => {
      const logits = this.network.logits(batch.ids, batch, INFERENCE);
      const ranked = hideUnk ? tf.add(logits, unkMask(this.config.vocabSize)) : logits;
      const top = tf.topk(ranked, k);
      return [top.values, top.indices, gatherTargets(tf.logSoftmax(logits), batch.targets)];
    });
    const result = {
      values: values.dataSync() as Float32Array,
      indices: indices.dataSync() as Int32Array,
      targetLogp: targetLogp.dataSync() as Float32Array,
    };
    tf.dispose([values, indices, targetLogp]);
    return result;
  }

  private greedyNext(ids: Int32Array): number {
    const hideUnk = !this.vocab.unkHasTokenizerId;
    const best = tf.tidy(() => {
      const logits = this.network.logits(ids, { batch: 1, seqLen: ids.length }, INFERENCE);
      const last = tf.slice(logits, [ids.length - 1, 0], [1, this.config.vocabSize]);
      return tf.argMax(hideUnk ? tf.add(last, unkMask(this.config.vocabSize)) : last, -1);
    });
    const id = best.dataSync()[0] as number;
    best.dispose();
    return id;
  }
}

function prefixSums(lengths: Int32Array): Int32Array {
  const offsets = new Int32Array(lengths.length);
  for (let i = 1; i < lengths.length; i++) offsets[i] = (offsets[i - 1] as number) + (lengths[i - 1] as number);
  return offsets;
}

/** [vocab] with -Infinity at the model unk. */
function unkMask(vocab: number): tf.Tensor1D {
  const m = new Float32Array(vocab);
  m[MODEL_UNK] = -Infinity;
  return tf.tensor1d(m);
}

/** logp[row, targets[row]] for every row. */
function gatherTargets(logp: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const vocab = logp.shape[1];
  const flat = Int32Array.from(targets, (id, row) => row * vocab + id);
  return tf.gather(logp.reshape([-1]), tf.tensor1d(flat, 'int32')) as tf.Tensor1D;
}

/** Sum of log p over the answer-token targets of batch row b. */
function answerLogLikelihood(targetLogp: Float32Array, batch: PaddedBatch, b: number): number {
  let sum = 0;
  for (let t = 0; t < batch.seqLen; t++) {
    const i = b * batch.seqLen + t;
    if (batch.ceMask[i] === 1) sum += targetLogp[i] as number;
  }
  return sum;
}
