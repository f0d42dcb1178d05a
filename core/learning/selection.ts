import type { AlignedTeacher } from '../alignment/aligned-teacher.js';
import { discountedCE } from './staleness.js';

/**
 * DualMinCE (FedMKT steps 4 and 8): per public sample, distil from the candidate whose
 * cross-entropy on the gold answer is lowest. The server's candidates are its own LLM
 * (self) and every aligned SLM; a client's are its own SLM (self) and the aligned LLM.
 * Ties go to self, then to the lower index. With no others this is pure self-distillation.
 * Asynchronous modes pass a staleness weight per other: it is ranked by CE / weight
 * (core/learning/staleness.ts); the combined teacher keeps each sample's own CE.
 */

interface SelectionCounts {
  /** Samples that kept self as teacher. */
  self: number;
  /** Samples taught by others[i]. */
  others: number[];
}

export interface TeacherSelection {
  /** The combined teacher over the receiver's tokenisation. */
  teacher: AlignedTeacher;
  /** Per sample: -1 = self, i = others[i]. */
  chosen: Int32Array;
  counts: SelectionCounts;
}

export const SELF = -1;

export function selectTeachers(self: AlignedTeacher, others: readonly AlignedTeacher[], weights?: readonly number[]): TeacherSelection {
  const samples = self.lengths.length;
  const starts = positionStarts(self);
  const positions = starts[samples] as number;
  checkCandidate(self, 'self', self, positions);
  others.forEach((other, i) => checkCandidate(other, `others[${i}]`, self, positions));
  if (weights && weights.length !== others.length) throw new Error(`selectTeachers: ${weights.length} weights for ${others.length} others`);

  const chosen = new Int32Array(samples);
  const counts: SelectionCounts = { self: 0, others: others.map(() => 0) };
  for (let s = 0; s < samples; s++) {
    let best = SELF;
    let bestCe = self.ce[s] as number;
    others.forEach((other, i) => {
      const ce = weights ? discountedCE(other.ce[s] as number, weights[i] as number) : (other.ce[s] as number);
      if (ce < bestCe) {
        best = i;
        bestCe = ce;
      }
    });
    chosen[s] = best;
    if (best === SELF) counts.self++;
    else counts.others[best] = (counts.others[best] as number) + 1;
  }

  const topK = Math.max(self.topK, ...others.map((o) => o.topK));
  const teacher: AlignedTeacher = {
    tokenizer: self.tokenizer,
    topK,
    lengths: self.lengths.slice(),
    topKIds: new Int32Array(positions * topK).fill(-1),
    topKLogits: new Float32Array(positions * topK).fill(-Infinity),
    source: new Uint8Array(positions),
    ce: new Float32Array(samples),
  };
  for (let s = 0; s < samples; s++) {
    const pick = chosen[s] as number;
    const from = pick === SELF ? self : (others[pick] as AlignedTeacher);
    copySample(from, teacher, starts[s] as number, starts[s + 1] as number);
    teacher.ce[s] = from.ce[s] as number;
  }
  return { teacher, chosen, counts };
}

/** starts[s] = first position of sample s; starts[samples] = total positions. */
function positionStarts(self: AlignedTeacher): Float64Array {
  const starts = new Float64Array(self.lengths.length + 1);
  for (let s = 0; s < self.lengths.length; s++) {
    const n = self.lengths[s] as number;
    if (n < 0) throw new Error(`selectTeachers: self lengths[${s}] is ${n}, a negative length`);
    starts[s + 1] = (starts[s] as number) + n;
  }
  return starts;
}

function checkCandidate(candidate: AlignedTeacher, name: string, self: AlignedTeacher, positions: number): void {
  const where = `selectTeachers: ${name}`;
  if (!Number.isInteger(candidate.topK) || candidate.topK < 1) throw new Error(`${where} topK is ${candidate.topK}, expected a positive integer`);
  if (candidate.tokenizer !== self.tokenizer) {
    throw new Error(`${where} is over tokenizer ${candidate.tokenizer}, self over ${self.tokenizer}: align it to the receiver first`);
  }
  const samples = self.lengths.length;
  if (candidate.lengths.length !== samples) {
    throw new Error(`${where} covers ${candidate.lengths.length} samples, self ${samples}`);
  }
  for (let s = 0; s < samples; s++) {
    if (candidate.lengths[s] !== self.lengths[s]) {
      throw new Error(`${where} sample ${s} has length ${candidate.lengths[s]}, self ${self.lengths[s]}: candidates must share the receiver's tokenisation`);
    }
  }
  const expect = (actual: number, wanted: number, field: string, why: string) => {
    if (actual !== wanted) throw new Error(`${where} ${field} has ${actual} entries, expected ${wanted} (${why})`);
  };
  expect(candidate.topKIds.length, positions * candidate.topK, 'topKIds', `${positions} positions * topK ${candidate.topK}`);
  expect(candidate.topKLogits.length, positions * candidate.topK, 'topKLogits', `${positions} positions * topK ${candidate.topK}`);
  expect(candidate.source.length, positions, 'source', 'one per position');
  expect(candidate.ce.length, samples, 'ce', 'one per sample');
  for (let s = 0; s < samples; s++) {
    if (Number.isNaN(candidate.ce[s])) throw new Error(`${where} sample ${s} has cross-entropy NaN: DualMinCE cannot rank it`);
  }
}

/** Positions [start, end) of one sample; slots beyond the candidate's topK stay empty. */
function copySample(from: AlignedTeacher, to: AlignedTeacher, start: number, end: number): void {
  to.source.set(from.source.subarray(start, end), start);
  const k = from.topK;
  const K = to.topK;
  if (k === K) {
    to.topKIds.set(from.topKIds.subarray(start * k, end * k), start * K);
    to.topKLogits.set(from.topKLogits.subarray(start * k, end * k), start * K);
    return;
  }
  for (let p = start; p < end; p++) {
    to.topKIds.set(from.topKIds.subarray(p * k, (p + 1) * k), p * K);
    to.topKLogits.set(from.topKLogits.subarray(p * k, (p + 1) * k), p * K);
  }
}
