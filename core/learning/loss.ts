/**
 * The FedMKT training objective (steps 4 and 8), in one place:
 *
 *   p_teacher = softmax(topK logits / T) over the non-empty slots, 0 outside the top-K
 *   KD        = mean over positions with a teacher of  -sum_v p_teacher(v) log p_student(v)
 *   CE        = mean over answer-token targets of       -log p_student(target)
 *   loss      = kdAlpha * CE + (1 - kdAlpha) * KD
 *
 * Position t holds the prediction of token t+1, for the student's logits and for an
 * AlignedTeacher alike, so teacher row t is compared with student row t. The student's
 * log-softmax is taken at temperature 1; T only shapes the teacher. An empty mean (no answer
 * token, or no position with a teacher) is 0.
 *
 * Ids here are the student's model-vocabulary ids. A teacher id that has no row in the
 * student's compact vocabulary is mapped to the student's unk by the caller (ModelVocab), so
 * its probability mass teaches "some token outside my vocabulary" instead of being dropped
 * and silently renormalised onto the remaining ids; ids that collide add up.
 *
 * `fedmktLossReference` is the arithmetic on plain numbers, the specification the tests hold
 * the tfjs versions to: `fedmktLoss` (each part, by tfjs's own gradients) and
 * `fedmktTrainingLoss` (the total as one tape node with its gradient written out), which
 * training differentiates, as does `supervisedLoss`.
 */
import * as tf from '@tensorflow/tfjs';
import { readView, uploadBuffer } from '../tensor/kernels.js';
import { keepForBackprop } from '../tensor/tape.js';

/** Slot id of an empty top-K entry (its logit is -Infinity). */
export const EMPTY_SLOT = -1;

function checkTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`distillation temperature must be a positive finite number, got ${temperature}`);
  }
}

function isEmptySlot(id: number, logit: number): boolean {
  return id < 0 || logit === -Infinity;
}

/**
 * Teacher probabilities of one position's top-K slots: softmax(logit / T) over non-empty slots,
 * 0 for empty slots. All slots empty gives all zeros.
 */
export function teacherDistribution(ids: ArrayLike<number>, logits: ArrayLike<number>, temperature: number): Float64Array {
  checkTemperature(temperature);
  if (ids.length !== logits.length) throw new Error(`teacherDistribution: ${ids.length} ids but ${logits.length} logits`);
  const probs = new Float64Array(ids.length);
  let max = -Infinity;
  for (let k = 0; k < ids.length; k++) {
    const logit = logits[k] as number;
    if (Number.isNaN(logit)) throw new Error(`teacherDistribution: slot ${k} has a NaN logit`);
    if (!isEmptySlot(ids[k] as number, logit)) max = Math.max(max, logit / temperature);
  }
  if (max === -Infinity) return probs;
  let total = 0;
  for (let k = 0; k < ids.length; k++) {
    if (isEmptySlot(ids[k] as number, logits[k] as number)) continue;
    probs[k] = Math.exp((logits[k] as number) / temperature - max);
    total += probs[k] as number;
  }
  for (let k = 0; k < ids.length; k++) probs[k] = (probs[k] as number) / total;
  return probs;
}

/**
 * Adds one position's teacher distribution into a dense row `out[offset .. offset + vocab)`;
 * `ids` are student ids (EMPTY_SLOT for empty). Returns whether the row received any mass.
 */
export function writeTeacherRow(
  out: Float32Array,
  offset: number,
  vocab: number,
  ids: ArrayLike<number>,
  logits: ArrayLike<number>,
  temperature: number,
): boolean {
  const probs = teacherDistribution(ids, logits, temperature);
  let any = false;
  for (let k = 0; k < probs.length; k++) {
    const p = probs[k] as number;
    if (p === 0) continue;
    const id = ids[k] as number;
    if (id >= vocab) throw new Error(`writeTeacherRow: student id ${id} at slot ${k} is outside a vocabulary of ${vocab}`);
    out[offset + id] = (out[offset + id] as number) + p;
    any = true;
  }
  return any;
}

/** One student position, for the reference computation. */
export interface ReferencePosition {
  /** The student's logits over its whole vocabulary. */
  logits: readonly number[];
  /** The answer token this position predicts, if it is an answer-token target. */
  target?: number;
  /** The teacher's top-K at this position (student ids), absent where the source is None. */
  teacher?: { ids: readonly number[]; logits: readonly number[] };
}

export interface LossWeights {
  kdAlpha: number;
  temperature: number;
}

export interface LossParts<T> {
  total: T;
  ce: T;
  kd: T;
}

function checkLossTargets(batch: LossTargets, n: number, vocab: number): void {
  for (const [name, arr] of [
    ['targets', batch.targets],
    ['ceMask', batch.ceMask],
    ['kdMask', batch.kdMask],
  ] as const) {
    if (arr && arr.length !== n) throw new Error(`fedmktLoss: ${name} has ${arr.length} entries for ${n} rows`);
  }
  if (batch.teacherProbs && batch.teacherProbs.length !== n * vocab) {
    throw new Error(`fedmktLoss: teacherProbs has ${batch.teacherProbs.length} entries, expected ${n} x ${vocab}`);
  }
  if (!!batch.teacherProbs !== !!batch.kdMask) throw new Error('fedmktLoss: teacherProbs and kdMask come together');
}

function checkKdAlpha(kdAlpha: number): void {
  if (!(kdAlpha >= 0 && kdAlpha <= 1)) throw new Error(`kdAlpha must be in [0, 1], got ${kdAlpha}`);
}

/** Refuses a kdAlpha outside [0, 1] or a temperature that is not a positive finite number. */
export function checkLossWeights(weights: LossWeights): void {
  checkKdAlpha(weights.kdAlpha);
  checkTemperature(weights.temperature);
}

/**
 * The loss mix as weights of single terms: kdAlpha · (mean of `ceTerms` CE terms) + (1 − kdAlpha)
 * · (mean of `kdTerms` KD terms) weighs each CE term kdAlpha / ceTerms and each KD term
 * (1 − kdAlpha) / kdTerms; an empty mean weighs nothing.
 */
export function termWeights(kdAlpha: number, ceTerms: number, kdTerms: number): { ce: number; kd: number } {
  return { ce: ceTerms > 0 ? kdAlpha / ceTerms : 0, kd: kdTerms > 0 ? (1 - kdAlpha) / kdTerms : 0 };
}

function logSoftmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const logSum = Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0)) + max;
  return logits.map((l) => l - logSum);
}

/** The FedMKT loss on plain numbers. */
export function fedmktLossReference(positions: readonly ReferencePosition[], weights: LossWeights): LossParts<number> {
  checkKdAlpha(weights.kdAlpha);
  let ceSum = 0;
  let ceCount = 0;
  let kdSum = 0;
  let kdCount = 0;
  for (const pos of positions) {
    const logp = logSoftmax(pos.logits);
    if (pos.target !== undefined) {
      ceSum -= logp[pos.target] as number;
      ceCount++;
    }
    if (pos.teacher) {
      const probs = teacherDistribution(pos.teacher.ids, pos.teacher.logits, weights.temperature);
      pos.teacher.ids.forEach((id, k) => {
        if ((probs[k] as number) > 0) kdSum -= (probs[k] as number) * (logp[id] as number);
      });
      kdCount++;
    }
  }
  const ce = ceCount > 0 ? ceSum / ceCount : 0;
  const kd = kdCount > 0 ? kdSum / kdCount : 0;
  return { ce, kd, total: weights.kdAlpha * ce + (1 - weights.kdAlpha) * kd };
}

/** Per-position targets of a batch of n rows, flattened row-major. */
export interface LossTargets {
  /** [n] the token each row predicts (any id where `ceMask` is 0). */
  targets: Int32Array;
  /** [n] 1 where the row's target is an answer token. */
  ceMask: Float32Array;
  /** [n * vocab] dense teacher distributions (see writeTeacherRow); absent for plain CE. */
  teacherProbs?: Float32Array;
  /** [n] 1 where the row has a teacher (source != None). */
  kdMask?: Float32Array;
}

function sum(values: Float32Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Mean over masked rows of -sum_v target(v) log p(v); `targetDist` [n, vocab]. */
function maskedSoftCrossEntropy(logp: tf.Tensor2D, targetDist: tf.Tensor2D, mask: Float32Array): tf.Scalar {
  const count = sum(mask);
  if (count === 0) return tf.scalar(0);
  const perRow = tf.sum(tf.mul(logp, targetDist), -1);
  return tf.div(tf.neg(tf.sum(tf.mul(perRow, tf.tensor1d(mask)))), count);
}

/** Supervised CE on answer tokens: mean of -log p(target) over rows with ceMask 1. */
export function supervisedLoss(logits: tf.Tensor2D, targets: Int32Array, ceMask: Float32Array): tf.Scalar {
  return fedmktTrainingLoss(logits, { targets, ceMask }, 1);
}

/** Teacher distributions of a batch's rows, sparse: row r's are entries offsets[r] .. offsets[r+1]. */
export interface SparseTeacher {
  offsets: Int32Array;
  /** Student ids (collisions may repeat an id: their probabilities add). */
  ids: Int32Array;
  probs: Float32Array;
}

/** Builds a SparseTeacher row by row (rows without a call have no teacher). */
export class SparseTeacherBuilder {
  private readonly offsets: Int32Array;
  private ids: number[] = [];
  private probs: number[] = [];
  private next = 0;

  constructor(readonly rows: number) {
    this.offsets = new Int32Array(rows + 1);
  }

  /** Row `row`'s teacher (rows in increasing order): softmax(logit / T) over its non-empty
   * slots, as teacherDistribution. Returns whether the row received any mass. */
  addRow(row: number, ids: ArrayLike<number>, logits: ArrayLike<number>, temperature: number): boolean {
    if (row < this.next) throw new Error(`SparseTeacherBuilder: row ${row} after row ${this.next - 1}`);
    this.offsets.fill(this.ids.length, this.next, row + 1);
    const probs = teacherDistribution(ids, logits, temperature);
    for (let k = 0; k < probs.length; k++) {
      if ((probs[k] as number) === 0) continue;
      this.ids.push(ids[k] as number);
      this.probs.push(probs[k] as number);
    }
    this.next = row + 1;
    return this.offsets[row] !== this.ids.length;
  }

  build(): SparseTeacher {
    this.offsets.fill(this.ids.length, this.next, this.rows + 1);
    return { offsets: this.offsets, ids: Int32Array.from(this.ids), probs: Float32Array.from(this.probs) };
  }
}

/** What the training loss of a batch of n rows is taken against. */
export interface TrainingTargets {
  /** [n] the token each row predicts (any id where `ceMask` is 0). */
  targets: Int32Array;
  /** [n] 1 where the row's target is an answer token. */
  ceMask: Float32Array;
  /** Teacher distributions; a row with entries is a KD row. */
  teacher?: SparseTeacher;
}

/**
 * fedmktLoss's total as -sum_{r,v} W[r,v] log softmax(logits)[r,v], W holding kdAlpha / nCE at
 * each CE row's target and (1 - kdAlpha) / nKD times each KD row's teacher distribution: at most
 * 1 + K cells a row, kept sparse. One differentiable op: forward one softmax kernel, then the
 * sum over W's cells in JS (log p, or where p underflows logit[r,v] - logit[r,m] + log p[r,m] at
 * the row's most likely id m); gradient softmax(logits) rowsum(W) - W, built in one pass. The
 * empty mean (no CE target and no teacher) is 0 and no function of the logits.
 */
export function fedmktTrainingLoss(logits: tf.Tensor2D, batch: TrainingTargets, kdAlpha: number): tf.Scalar {
  checkKdAlpha(kdAlpha);
  const [n, vocab] = logits.shape;
  const { targets, ceMask, teacher } = batch;
  if (targets.length !== n) throw new Error(`fedmktLoss: targets has ${targets.length} entries for ${n} rows`);
  if (ceMask.length !== n) throw new Error(`fedmktLoss: ceMask has ${ceMask.length} entries for ${n} rows`);
  if (teacher && teacher.offsets.length !== n + 1) throw new Error(`fedmktLoss: teacher covers ${teacher.offsets.length - 1} rows, not ${n}`);
  const ceCount = sum(ceMask);
  let kdCount = 0;
  if (teacher) for (let r = 0; r < n; r++) if ((teacher.offsets[r + 1] as number) > (teacher.offsets[r] as number)) kdCount++;
  if (ceCount === 0 && kdCount === 0) return tf.scalar(0);
  const { ce: ceWeight, kd: kdWeight } = termWeights(kdAlpha, ceCount, kdCount);
  const rowSums = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    if (ceMask[r] !== 0) {
      const t = targets[r] as number;
      if (t < 0 || t >= vocab) throw new Error(`fedmktLoss: target ${t} at row ${r} is outside a vocabulary of ${vocab}`);
      rowSums[r] = ceWeight * (ceMask[r] as number);
    }
    if (teacher) {
      for (let j = teacher.offsets[r] as number; j < (teacher.offsets[r + 1] as number); j++) {
        const id = teacher.ids[j] as number;
        if (id < 0 || id >= vocab) throw new Error(`fedmktLoss: teacher id ${id} at row ${r} is outside a vocabulary of ${vocab}`);
        rowSums[r] = (rowSums[r] as number) + kdWeight * (teacher.probs[j] as number);
      }
    }
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const probs = tf.softmax(x);
    // inside a training step the softmax is kept and read in place; otherwise a JS copy is kept
    const kept = keepForBackprop(probs);
    const copy = kept ? undefined : (probs.dataSync() as Float32Array);
    if (!kept) probs.dispose();
    const softmaxValues = (): Float32Array => copy ?? readView(probs);
    let p = softmaxValues();
    let logitValues: Float32Array | undefined;
    // log p at cell i of row r (offset o): from p, or where p underflows, exactly from the logits
    // as logit_i - logit_m + log p_m at the row's most likely id m
    const logP = (o: number, i: number): number => {
      const pi = p[i] as number;
      if (pi > 1e-30) return Math.log(pi);
      logitValues ??= x.dataSync() as Float32Array;
      p = softmaxValues();
      let m = o;
      for (let j = o + 1; j < o + vocab; j++) if ((p[j] as number) > (p[m] as number)) m = j;
      return (logitValues[i] as number) - (logitValues[m] as number) + Math.log(p[m] as number);
    };
    let loss = 0;
    for (let r = 0; r < n; r++) {
      if (rowSums[r] === 0) continue;
      const o = r * vocab;
      if (ceMask[r] !== 0) loss -= ceWeight * (ceMask[r] as number) * logP(o, o + (targets[r] as number));
      if (teacher) {
        for (let j = teacher.offsets[r] as number; j < (teacher.offsets[r + 1] as number); j++) {
          loss -= kdWeight * (teacher.probs[j] as number) * logP(o, o + (teacher.ids[j] as number));
        }
      }
    }
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const scale = (dy as tf.Scalar).dataSync()[0] as number;
        const g = uploadBuffer(n * vocab);
        p = softmaxValues();
        for (let r = 0; r < n; r++) {
          const w = (rowSums[r] as number) * scale;
          const o = r * vocab;
          if (w === 0) {
            g.fill(0, o, o + vocab);
            continue;
          }
          for (let i = o; i < o + vocab; i++) g[i] = (p[i] as number) * w;
          if (ceMask[r] !== 0) {
            const i = o + (targets[r] as number);
            g[i] = (g[i] as number) - ceWeight * (ceMask[r] as number) * scale;
          }
          if (teacher) {
            for (let j = teacher.offsets[r] as number; j < (teacher.offsets[r + 1] as number); j++) {
              const i = o + (teacher.ids[j] as number);
              g[i] = (g[i] as number) - kdWeight * (teacher.probs[j] as number) * scale;
            }
          }
        }
        return tf.tensor2d(g, [n, vocab]);
      },
    };
  });
  return op(logits) as tf.Scalar;
}

/** A dense LossTargets batch (as fedmktLoss takes) in the sparse form training uses. */
export function toTrainingTargets(batch: LossTargets, vocab: number): TrainingTargets {
  const { teacherProbs, kdMask } = batch;
  if (!teacherProbs || !kdMask) return { targets: batch.targets, ceMask: batch.ceMask };
  const n = batch.targets.length;
  const offsets = new Int32Array(n + 1);
  const ids: number[] = [];
  const probs: number[] = [];
  for (let r = 0; r < n; r++) {
    if (kdMask[r] !== 0) {
      for (let v = 0; v < vocab; v++) {
        const q = teacherProbs[r * vocab + v] as number;
        if (q === 0) continue;
        ids.push(v);
        probs.push(q * (kdMask[r] as number));
      }
    }
    offsets[r + 1] = ids.length;
  }
  return { targets: batch.targets, ceMask: batch.ceMask, teacher: { offsets, ids: Int32Array.from(ids), probs: Float32Array.from(probs) } };
}

/** The FedMKT loss on a batch of student logits [n, vocab]. */
export function fedmktLoss(logits: tf.Tensor2D, batch: LossTargets, kdAlpha: number): LossParts<tf.Scalar> {
  checkKdAlpha(kdAlpha);
  const [n, vocab] = logits.shape;
  checkLossTargets(batch, n, vocab);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(batch.targets, 'int32'), vocab), 'float32') as tf.Tensor2D;
    const ce = maskedSoftCrossEntropy(logp, oneHot, batch.ceMask);
    const kd = batch.teacherProbs && batch.kdMask ? maskedSoftCrossEntropy(logp, tf.tensor2d(batch.teacherProbs, [n, vocab]), batch.kdMask) : tf.scalar(0);
    const total = tf.add(tf.mul(ce, kdAlpha), tf.mul(kd, 1 - kdAlpha)) as tf.Scalar;
    return { total, ce, kd };
  });
}
