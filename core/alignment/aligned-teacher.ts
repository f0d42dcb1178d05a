import type { PublicLogits } from '../protocol/messages.js';

/**
 * A teacher signal laid over the *receiver's* tokenisation of the public set: the output of
 * token alignment (steps 3 and 7), the input of selection and distillation (steps 4 and 8).
 */

/** Where a position's teacher distribution came from. */
export const TeacherSource = {
  /** No teacher at this position: only the supervised term applies. */
  None: 0,
  /** The sender's top-K, carried over through alignment (or the receiver's own, for self). */
  Teacher: 1,
  /** A one-hot fallback where alignment found no one-to-one match. */
  Fallback: 2,
} as const;
export type TeacherSource = (typeof TeacherSource)[keyof typeof TeacherSource];

export interface AlignedTeacher {
  /** Registry name of the receiver's tokenizer: ids below are its ids. */
  tokenizer: string;
  /** Slots per position. Empty slots have id -1 and logit -Infinity. */
  topK: number;
  /** Receiver's non-pad length per sample (must equal the receiver's own tokenisation). */
  lengths: Int32Array;
  /** sum(lengths) * topK receiver token ids. */
  topKIds: Int32Array;
  /** Same layout; teacher distribution = softmax(logits / T) over non-empty slots. */
  topKLogits: Float32Array;
  /** Per position, a {@link TeacherSource}. */
  source: Uint8Array;
  /** Per sample, the teacher's cross-entropy on the gold answer (for DualMinCE). */
  ce: Float32Array;
}

/**
 * A party's own top-K as a teacher over its own tokenisation: the "itself" candidate of
 * DualMinCE (self-distillation), and alignment between identical tokenizers.
 */
export function identityTeacher(own: PublicLogits): AlignedTeacher {
  const positions = own.tokenIds.length;
  return {
    tokenizer: own.tokenizer,
    topK: own.topK,
    lengths: own.lengths.slice(),
    topKIds: own.topKIds.slice(),
    topKLogits: own.topKLogits.slice(),
    source: new Uint8Array(positions).fill(TeacherSource.Teacher),
    ce: own.ce.slice(),
  };
}

/** How alignment fills receiver positions without a one-to-one match (see FEDMKT.md). */
export type AlignmentFallback = 'next-token' | 'none' | 'reference';

export interface AlignmentStats {
  positions: number;
  teacherPositions: number;
  fallbackPositions: number;
}

/** Steps 3 and 7 as the learners see them: sender's top-K onto the receiver's tokenisation. */
export interface TokenAlignment {
  align(sender: PublicLogits, receiver: PublicLogits, fallback: AlignmentFallback): Promise<{ teacher: AlignedTeacher; stats: AlignmentStats }>;
  /** Build (or load) the vocabulary mapping of one direction ahead of use: before round 1. */
  prepare?(senderTokenizer: string, receiverTokenizer: string): Promise<void>;
}
