import { describe, expect, it } from 'vitest';
import { TeacherSource, type AlignedTeacher } from '../../core/alignment/aligned-teacher.js';
import { SELF, selectTeachers } from '../../core/learning/selection.js';

const { None, Teacher, Fallback } = TeacherSource;

/**
 * A candidate over 3 samples of lengths 1, 2, 1 (4 positions). Slot values encode who and
 * where: id = tag * 100 + position * 10 + slot, logit = -(position * 10 + slot).
 */
function candidate(tag: number, ce: number[], topK = 2, source: number[] = [Teacher, Teacher, Teacher, Teacher]): AlignedTeacher {
  const positions = 4;
  const topKIds = new Int32Array(positions * topK);
  const topKLogits = new Float32Array(positions * topK);
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < topK; j++) {
      topKIds[p * topK + j] = tag * 100 + p * 10 + j;
      topKLogits[p * topK + j] = tag - (p * 10 + j);
    }
  }
  return { tokenizer: 'llama2', topK, lengths: Int32Array.of(1, 2, 1), topKIds, topKLogits, source: Uint8Array.from(source), ce: Float32Array.from(ce) };
}

describe('selectTeachers (DualMinCE)', () => {
  it('server: per sample the lowest cross-entropy wins among the LLM itself and the aligned SLMs', () => {
    const llm = candidate(1, [1.0, 2.0, 0.5]);
    const slmA = candidate(2, [0.8, 2.5, 0.9]);
    const slmB = candidate(3, [0.9, 1.5, 0.7], 2, [Teacher, Fallback, None, Teacher]);
    const { teacher, chosen, counts } = selectTeachers(llm, [slmA, slmB]);

    expect(Array.from(chosen)).toEqual([0, 1, SELF]);
    expect(counts).toEqual({ self: 1, others: [1, 1] });
    expect(teacher.topK).toBe(2);
    expect(Array.from(teacher.lengths)).toEqual([1, 2, 1]);
    // Sample 0 (position 0) from slmA, sample 1 (positions 1, 2) from slmB, sample 2 (position 3) from the LLM.
    expect(Array.from(teacher.topKIds)).toEqual([200, 201, 310, 311, 320, 321, 130, 131]);
    expect(Array.from(teacher.topKLogits)).toEqual([2, 1, -7, -8, -17, -18, -29, -30]);
    expect(Array.from(teacher.source)).toEqual([Teacher, Fallback, None, Teacher]);
    expect(Array.from(teacher.ce)).toEqual([0.8, 1.5, 0.5].map(Math.fround));
  });

  it('ties go to self, then to the lower index', () => {
    const self = candidate(1, [1, 2, 3]);
    const a = candidate(2, [1, 0.5, 3]);
    const b = candidate(3, [1, 0.5, 2]);
    const { chosen, teacher } = selectTeachers(self, [a, b]);
    expect(Array.from(chosen)).toEqual([SELF, 0, 1]);
    expect(Array.from(teacher.topKIds.subarray(0, 2))).toEqual([100, 101]);
    expect(Array.from(teacher.topKIds.subarray(2, 6))).toEqual([210, 211, 220, 221]);
  });

  it('client: the aligned LLM only where its cross-entropy is strictly lower', () => {
    const slm = candidate(1, [0.7, 0.7, 0.7]);
    const llm = candidate(2, [0.6, 0.7, 0.8]);
    expect(Array.from(selectTeachers(slm, [llm]).chosen)).toEqual([0, SELF, SELF]);
  });

  it('others empty: pure self-distillation, an independent copy of self', () => {
    const self = candidate(1, [1, 2, 3], 2, [Teacher, Fallback, Teacher, None]);
    const { teacher, chosen, counts } = selectTeachers(self, []);
    expect(Array.from(chosen)).toEqual([SELF, SELF, SELF]);
    expect(counts).toEqual({ self: 3, others: [] });
    expect(teacher).toEqual(self);
    self.topKLogits[0] = 99;
    self.source[1] = None;
    expect(teacher.topKLogits[0]).toBe(1);
    expect(teacher.source[1]).toBe(Fallback);
  });

  it('differing topK: uses the largest and pads with id -1 and logit -Infinity, never NaN', () => {
    const self = candidate(1, [1, 1, 1], 3);
    const narrow = candidate(2, [0, 2, 0], 1);
    const { teacher, chosen } = selectTeachers(self, [narrow]);
    expect(Array.from(chosen)).toEqual([0, SELF, 0]);
    expect(teacher.topK).toBe(3);
    expect(Array.from(teacher.topKIds)).toEqual([200, -1, -1, 110, 111, 112, 120, 121, 122, 230, -1, -1]);
    expect(Array.from(teacher.topKLogits)).toEqual([2, -Infinity, -Infinity, -9, -10, -11, -19, -20, -21, -28, -Infinity, -Infinity]);
    expect(teacher.topKLogits.some(Number.isNaN)).toBe(false);

    const wide = selectTeachers(narrow, [self]);
    expect(wide.teacher.topK).toBe(3);
    expect(Array.from(wide.chosen)).toEqual([SELF, 0, SELF]);
    expect(Array.from(wide.teacher.topKIds.subarray(0, 3))).toEqual([200, -1, -1]);
    expect(Array.from(wide.teacher.topKIds.subarray(3, 9))).toEqual([110, 111, 112, 120, 121, 122]);
  });

  it('infinite cross-entropy loses to any finite one', () => {
    const self = candidate(1, [Infinity, 1, 1]);
    const other = candidate(2, [50, Infinity, 1]);
    expect(Array.from(selectTeachers(self, [other]).chosen)).toEqual([0, SELF, SELF]);
  });

  describe('refuses candidates that do not fit, naming the candidate and the sample', () => {
    const self = candidate(1, [1, 1, 1]);
    it.each([
      [
        'a different length',
        { lengths: Int32Array.of(1, 3, 1) },
        "selectTeachers: others[1] sample 1 has length 3, self 2: candidates must share the receiver's tokenisation",
      ],
      ['a different sample count', { lengths: Int32Array.of(1, 2) }, 'selectTeachers: others[1] covers 2 samples, self 3'],
      ['another tokenizer', { tokenizer: 'gpt2' }, 'selectTeachers: others[1] is over tokenizer gpt2, self over llama2: align it to the receiver first'],
      ['a NaN cross-entropy', { ce: Float32Array.of(1, 1, Number.NaN) }, 'selectTeachers: others[1] sample 2 has cross-entropy NaN: DualMinCE cannot rank it'],
      ['a short topKIds', { topKIds: new Int32Array(7) }, 'selectTeachers: others[1] topKIds has 7 entries, expected 8 (4 positions * topK 2)'],
      ['a short source', { source: new Uint8Array(3) }, 'selectTeachers: others[1] source has 3 entries, expected 4 (one per position)'],
      ['a zero topK', { topK: 0 }, 'selectTeachers: others[1] topK is 0, expected a positive integer'],
    ] as const)('%s', (_what, patch, message) => {
      const bad = { ...candidate(3, [0, 0, 0]), ...patch };
      expect(() => selectTeachers(self, [candidate(2, [1, 1, 1]), bad])).toThrow(message);
    });

    it('NaN in self', () => {
      expect(() => selectTeachers(candidate(1, [Number.NaN, 1, 1]), [])).toThrow('selectTeachers: self sample 0 has cross-entropy NaN');
    });
  });
});
