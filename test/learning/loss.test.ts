import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EMPTY_SLOT,
  fedmktLoss,
  fedmktLossReference,
  fedmktTrainingLoss,
  SparseTeacherBuilder,
  toTrainingTargets,
  supervisedLoss,
  teacherDistribution,
  writeTeacherRow,
  type ReferencePosition,
} from '../../core/learning/loss.js';
import { initBackend } from '../../core/models/backend.js';

const LN2 = Math.log(2);
const LN3 = Math.log(3);

beforeAll(async () => {
  await initBackend();
});

describe('teacherDistribution', () => {
  it('is softmax(logits / T) over non-empty slots and zero on empty ones', () => {
    // slots: id 4 logit 2 ln3, id 7 logit 0, empty (-1, -Inf); T = 2
    // logits / T = [ln3, 0]  ->  exp = [3, 1]  ->  [3/4, 1/4, 0]
    const p = teacherDistribution([4, 7, EMPTY_SLOT], [2 * LN3, 0, -Infinity], 2);
    expect(p[0]).toBeCloseTo(0.75, 12);
    expect(p[1]).toBeCloseTo(0.25, 12);
    expect(p[2]).toBe(0);
  });

  it('treats a -Infinity logit as empty even with a real id, and all-empty as no mass', () => {
    const p = teacherDistribution([1, 2], [0, -Infinity], 1);
    expect(Array.from(p)).toEqual([1, 0]);
    expect(Array.from(teacherDistribution([EMPTY_SLOT, EMPTY_SLOT], [-Infinity, -Infinity], 1))).toEqual([0, 0]);
  });

  it('rejects a non-positive temperature and NaN logits, naming the problem', () => {
    expect(() => teacherDistribution([1], [0], 0)).toThrow(/temperature/);
    expect(() => teacherDistribution([1, 2], [0, NaN], 1)).toThrow(/slot 1 has a NaN logit/);
  });

  it('adds colliding ids in a dense row (teacher ids mapped to the student unk)', () => {
    // ids 0 and 0 (two teacher tokens both outside the student vocabulary), id 2; logits ln1, ln1, ln2
    // exp = [1, 1, 2] / 4 -> row[0] = 1/4 + 1/4, row[2] = 1/2
    const row = new Float32Array(3);
    expect(writeTeacherRow(row, 0, 3, [0, 0, 2], [0, 0, LN2], 1)).toBe(true);
    expect(row[0]).toBeCloseTo(0.5, 6);
    expect(row[1]).toBe(0);
    expect(row[2]).toBeCloseTo(0.5, 6);
  });
});

/*
 * Three student positions over a vocabulary of 3, temperature T = 2, kdAlpha = 0.9.
 *
 * position 0: logits [0, ln2, 0]  -> exp [1, 2, 1] / 4 -> log p = [-ln4, -ln2, -ln4]
 *             target 1 (answer)   -> CE term = ln2
 *             teacher ids [1, 0, empty], logits [2 ln3, 0, -Inf] -> /T = [ln3, 0] -> p = [3/4, 1/4]
 *             KD term = -(3/4 (-ln2) + 1/4 (-ln4)) = 3/4 ln2 + 1/2 ln2 = 5/4 ln2
 * position 1: logits [0, 0, 0], prompt position (no target), no teacher (source None)
 * position 2: logits [0, 0, ln2] -> log p = [-ln4, -ln4, -ln2]
 *             target 2 (answer)   -> CE term = ln2
 *             teacher ids [2, 0], logits [2 ln3, 0] -> p = [3/4, 1/4]
 *             KD term = 3/4 ln2 + 1/4 ln4 = 5/4 ln2
 *
 * CE = (ln2 + ln2) / 2 = ln2 = 0.693147
 * KD = (5/4 ln2 + 5/4 ln2) / 2 = 5/4 ln2 = 0.866434   (position 1 has no teacher: not averaged in)
 * total = 0.9 * 0.693147 + 0.1 * 0.866434 = 0.623832 + 0.086643 = 0.710476
 */
const positions: ReferencePosition[] = [
  { logits: [0, LN2, 0], target: 1, teacher: { ids: [1, 0, EMPTY_SLOT], logits: [2 * LN3, 0, -Infinity] } },
  { logits: [0, 0, 0] },
  { logits: [0, 0, LN2], target: 2, teacher: { ids: [2, 0, EMPTY_SLOT], logits: [2 * LN3, 0, -Infinity] } },
];
const weights = { kdAlpha: 0.9, temperature: 2 };

describe('fedmktLossReference', () => {
  it('matches the hand computation', () => {
    const loss = fedmktLossReference(positions, weights);
    expect(loss.ce).toBeCloseTo(LN2, 12);
    expect(loss.kd).toBeCloseTo(1.25 * LN2, 12);
    expect(loss.total).toBeCloseTo(0.9 * LN2 + 0.1 * 1.25 * LN2, 12);
    expect(loss.total).toBeCloseTo(0.710476, 6);
  });

  it('is kdAlpha-weighted: kdAlpha 1 is pure CE, 0 pure KD', () => {
    expect(fedmktLossReference(positions, { ...weights, kdAlpha: 1 }).total).toBeCloseTo(LN2, 12);
    expect(fedmktLossReference(positions, { ...weights, kdAlpha: 0 }).total).toBeCloseTo(1.25 * LN2, 12);
    expect(() => fedmktLossReference(positions, { ...weights, kdAlpha: 1.5 })).toThrow(/kdAlpha/);
  });
});

function tfInputs(): { logits: tf.Tensor2D; batch: Parameters<typeof fedmktLoss>[1] } {
  const teacherProbs = new Float32Array(9);
  const kdMask = new Float32Array(3);
  positions.forEach((p, row) => {
    if (p.teacher && writeTeacherRow(teacherProbs, row * 3, 3, p.teacher.ids, p.teacher.logits, weights.temperature)) kdMask[row] = 1;
  });
  return {
    logits: tf.tensor2d(
      positions.flatMap((p) => p.logits),
      [3, 3],
    ),
    batch: {
      targets: Int32Array.from([1, 0, 2]),
      ceMask: Float32Array.from([1, 0, 1]),
      teacherProbs,
      kdMask,
    },
  };
}

describe('fedmktLoss (tfjs, used in training)', () => {
  it('equals the reference', () => {
    const { logits, batch } = tfInputs();
    const loss = fedmktLoss(logits, batch, weights.kdAlpha);
    expect(loss.ce.dataSync()[0]).toBeCloseTo(LN2, 5);
    expect(loss.kd.dataSync()[0]).toBeCloseTo(1.25 * LN2, 5);
    expect(loss.total.dataSync()[0]).toBeCloseTo(0.710476, 5);
    expect(supervisedLoss(logits, batch.targets, batch.ceMask).dataSync()[0]).toBeCloseTo(LN2, 5);
  });

  it('has gradient kdAlpha (softmax - onehot) / nCE + (1 - kdAlpha) (softmax - p_teacher) / nKD per row', () => {
    const { logits, batch } = tfInputs();
    const grad = tf
      .grad((x: tf.Tensor) => fedmktLoss(x as tf.Tensor2D, batch, weights.kdAlpha).total)(logits)
      .arraySync() as number[][];
    // row 0: softmax [1/4, 1/2, 1/4], onehot(1) = [0, 1, 0], p_teacher = [1/4, 3/4, 0], nCE = nKD = 2
    //   0.9 * [1/4, -1/2, 1/4] / 2 + 0.1 * [0, -1/4, 1/4] / 2 = [0.1125, -0.2375, 0.125]
    const row0 = [0.1125, -0.2375, 0.125];
    row0.forEach((g, v) => expect(grad[0]?.[v]).toBeCloseTo(g, 5));
    // row 1: no target, no teacher: no gradient
    grad[1]?.forEach((g) => expect(g).toBeCloseTo(0, 7));
  });

  it('is 0 for KD when no position has a teacher, and rejects mismatched sizes', () => {
    const { logits, batch } = tfInputs();
    const noTeacher = fedmktLoss(logits, { ...batch, kdMask: new Float32Array(3) }, 0.5);
    expect(noTeacher.kd.dataSync()[0]).toBe(0);
    expect(noTeacher.total.dataSync()[0]).toBeCloseTo(0.5 * LN2, 5);
    expect(() => fedmktLoss(logits, { ...batch, ceMask: new Float32Array(2) }, 0.5)).toThrow(/ceMask has 2 entries for 3 rows/);
  });
});

describe('fedmktTrainingLoss (one tape node, used in training)', () => {
  it('has the value and gradient of fedmktLoss total, for distillation and plain CE', () => {
    const { logits, batch } = tfInputs();
    for (const [b, alpha] of [
      [batch, weights.kdAlpha],
      [batch, 0],
      [{ targets: batch.targets, ceMask: batch.ceMask }, 1],
    ] as const) {
      const fused = (x: tf.Tensor): tf.Scalar => fedmktTrainingLoss(x as tf.Tensor2D, toTrainingTargets(b, 3), alpha);
      const plain = (x: tf.Tensor): tf.Scalar => fedmktLoss(x as tf.Tensor2D, b, alpha).total;
      expect(fused(logits).dataSync()[0]).toBeCloseTo(plain(logits).dataSync()[0] as number, 5);
      const got = tf.grad(fused)(logits).dataSync();
      const want = tf.grad(plain)(logits).dataSync();
      want.forEach((g, i) => expect(got[i]).toBeCloseTo(g, 6));
    }
    expect(supervisedLoss(logits, batch.targets, batch.ceMask).dataSync()[0]).toBeCloseTo(LN2, 5);
  });

  it('builds sparse teacher rows as writeTeacherRow builds dense ones (collisions add)', () => {
    const builder = new SparseTeacherBuilder(3);
    expect(builder.addRow(0, [1, 2, 1], [0, Math.log(2), -Infinity], 1)).toBe(true);
    expect(builder.addRow(2, [EMPTY_SLOT, 0], [1, Math.log(3)], 1)).toBe(true);
    const sparse = builder.build();
    expect(Array.from(sparse.offsets)).toEqual([0, 2, 2, 3]);
    expect(Array.from(sparse.ids)).toEqual([1, 2, 0]);
    [1 / 3, 2 / 3, 1].forEach((q, i) => expect(sparse.probs[i]).toBeCloseTo(q, 6));
  });

  it('stays finite where the softmax underflows: log p from the logits', () => {
    // p(id 1) = e^-200 / (1 + e^-200) underflows to 0 in float32; its -log p is 200
    const logits = tf.tensor2d([[0, -200]]);
    const loss = fedmktTrainingLoss(logits, { targets: Int32Array.from([1]), ceMask: Float32Array.from([1]) }, 1);
    expect(loss.dataSync()[0]).toBeCloseTo(200, 3);
  });

  it('is 0 and no function of the logits when no row has a target or a teacher', () => {
    const { logits, batch } = tfInputs();
    const loss = fedmktTrainingLoss(
      logits,
      { targets: batch.targets, ceMask: new Float32Array(3), teacher: { offsets: new Int32Array(4), ids: new Int32Array(0), probs: new Float32Array(0) } },
      0.5,
    );
    expect(loss.dataSync()[0]).toBe(0);
    const v = tf.variable(logits);
    expect(() => tf.variableGrads(() => fedmktTrainingLoss(v, { targets: batch.targets, ceMask: new Float32Array(3) }, 1), [v])).toThrow(/connection/);
  });
});
