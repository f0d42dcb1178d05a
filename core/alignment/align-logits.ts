import type { PublicLogits } from '../protocol/messages.js';
import { identityTeacher, TeacherSource, type AlignedTeacher, type AlignmentFallback, type AlignmentStats } from './aligned-teacher.js';
import type { VocabPair } from './token-pair.js';

/**
 * Sequence-level token alignment (FedMKT steps 3 and 7): the sender's top-K over the receiver's
 * tokenisation. A receiver position aligned by DTW to exactly one sender position holding the
 * same token gets the sender's top-K, ids carried through the MinED map with logits unchanged
 * (the highest logit wins where several land on one id). Other positions get the fallback.
 * "Same token": same normalised spelling or mapped to it; at a sample's first position the
 * word-start marker is not compared (a dummy prefix, as LLaMA's `▁we` against GPT-2's `we`).
 */

export type { AlignmentFallback } from './aligned-teacher.js';

/**
 * Fallbacks (see FEDMKT.md):
 * - `next-token`: one-hot on the receiver's next token, since the logits at t predict t+1; the
 *   last position of a sample gets no teacher.
 * - `none`: no teacher; only the supervised term applies there.
 * - `reference`: one-hot on the current token, as FuseLLM/FedMKT's code does. It teaches
 *   "repeat the current token"; kept only for comparison.
 */
export const ALIGNMENT_FALLBACKS: readonly AlignmentFallback[] = ['next-token', 'none', 'reference'];

export interface AlignmentResult {
  teacher: AlignedTeacher;
  stats: AlignmentStats;
}

/** The receiver's own tokenisation of the public set (from its scored view). */
export type ReceiverTokens = Pick<PublicLogits, 'tokenizer' | 'lengths' | 'tokenIds'>;

function checkTokens(view: ReceiverTokens, role: string, vocabSize: number): number {
  let positions = 0;
  for (let n = 0; n < view.lengths.length; n++) {
    const length = view.lengths[n] as number;
    if (length < 0) throw new Error(`${role} logits (${view.tokenizer}): lengths[${n}] = ${length} is negative`);
    positions += length;
  }
  if (view.tokenIds.length !== positions) {
    throw new Error(`${role} logits (${view.tokenizer}): tokenIds has ${view.tokenIds.length} entries but lengths sum to ${positions}`);
  }
  let sample = 0;
  let sampleEnd = view.lengths[0] ?? 0;
  for (let p = 0; p < positions; p++) {
    while (p >= sampleEnd) sampleEnd += view.lengths[++sample] as number;
    const id = view.tokenIds[p] as number;
    if (id < 0 || id >= vocabSize) {
      const at = p - (sampleEnd - (view.lengths[sample] as number));
      throw new Error(`${role} logits (${view.tokenizer}): token id ${id} at sample ${sample}, position ${at} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  return positions;
}

function checkSender(sender: PublicLogits, vocabSize: number): number {
  const positions = checkTokens(sender, 'sender', vocabSize);
  const where = `sender logits (${sender.tokenizer})`;
  if (!Number.isInteger(sender.topK) || sender.topK < 1) throw new Error(`${where}: topK = ${sender.topK} must be a positive integer`);
  if (sender.topKIds.length !== positions * sender.topK || sender.topKLogits.length !== positions * sender.topK) {
    throw new Error(
      `${where}: topKIds/topKLogits have ${sender.topKIds.length}/${sender.topKLogits.length} entries, need ${positions} positions x ${sender.topK}`,
    );
  }
  if (sender.ce.length !== sender.lengths.length) {
    throw new Error(`${where}: ce has ${sender.ce.length} entries for ${sender.lengths.length} samples`);
  }
  for (let e = 0; e < sender.topKIds.length; e++) {
    const id = sender.topKIds[e] as number;
    if (id < -1 || id >= vocabSize) {
      const position = Math.floor(e / sender.topK);
      throw new Error(`${where}: top-K id ${id} at position ${position}, slot ${e % sender.topK} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  return positions;
}

function sameTokens(a: ReceiverTokens, b: ReceiverTokens): boolean {
  if (a.lengths.length !== b.lengths.length || a.tokenIds.length !== b.tokenIds.length) return false;
  for (let i = 0; i < a.lengths.length; i++) if (a.lengths[i] !== b.lengths[i]) return false;
  for (let i = 0; i < a.tokenIds.length; i++) if (a.tokenIds[i] !== b.tokenIds[i]) return false;
  return true;
}

/** Scratch for merging top-K ids that land on the same receiver id. */
class SlotScratch {
  readonly slotOf: Int32Array;
  readonly stampOf: Int32Array;
  stamp = 0;
  constructor(vocabSize: number) {
    this.slotOf = new Int32Array(vocabSize);
    this.stampOf = new Int32Array(vocabSize);
  }
}

const scratchByPair = new WeakMap<VocabPair, SlotScratch>();

/**
 * Lay `sender`'s top-K over `receiver`'s tokenisation. `ce` is the sender's, for DualMinCE.
 * Identical tokenizers and token ids give {@link identityTeacher}: every top-K entry kept.
 */
export function alignLogits(pair: VocabPair, sender: PublicLogits, receiver: ReceiverTokens, fallback: AlignmentFallback = 'next-token'): AlignmentResult {
  if (!ALIGNMENT_FALLBACKS.includes(fallback)) {
    throw new Error(`alignLogits: unknown fallback "${String(fallback)}" (expected ${ALIGNMENT_FALLBACKS.join(', ')})`);
  }
  if (sender.tokenizer !== pair.sender.name || receiver.tokenizer !== pair.receiver.name) {
    throw new Error(`alignLogits: logits are ${sender.tokenizer} -> ${receiver.tokenizer} but the vocab pair is ${pair.sender.name} -> ${pair.receiver.name}`);
  }
  checkSender(sender, pair.sender.vocabSize);
  const positions = checkTokens(receiver, 'receiver', pair.receiver.vocabSize);
  if (sender.lengths.length !== receiver.lengths.length) {
    throw new Error(`alignLogits: sender has ${sender.lengths.length} public samples, receiver ${receiver.lengths.length}`);
  }
  if (pair.identical && sameTokens(sender, receiver)) {
    const teacher = { ...identityTeacher(sender), tokenizer: receiver.tokenizer };
    return { teacher, stats: { positions, teacherPositions: positions, fallbackPositions: 0 } };
  }

  const topK = sender.topK;
  const topKIds = new Int32Array(positions * topK).fill(-1);
  const topKLogits = new Float32Array(positions * topK).fill(-Infinity);
  const source = new Uint8Array(positions);
  let scratch = scratchByPair.get(pair);
  if (!scratch) {
    scratch = new SlotScratch(pair.receiver.vocabSize);
    scratchByPair.set(pair, scratch);
  }
  const targetOf = pair.map.targetOf;
  let teacherPositions = 0;
  let fallbackPositions = 0;
  let sOffset = 0;
  let rOffset = 0;
  for (let n = 0; n < receiver.lengths.length; n++) {
    const sLength = sender.lengths[n] as number;
    const rLength = receiver.lengths[n] as number;
    const alignment = pair.alignSample(sender.tokenIds, sOffset, sLength, receiver.tokenIds, rOffset, rLength);
    for (let t = 0; t < rLength; t++) {
      const position = rOffset + t;
      const out = position * topK;
      const i = alignment.senderOf[t] as number;
      if (i >= 0 && alignment.matched[t] === 1) {
        const carried = carryTopK(sender, (sOffset + i) * topK, targetOf, scratch, topKIds, topKLogits, out);
        if (carried > 0) {
          source[position] = TeacherSource.Teacher;
          teacherPositions++;
          continue;
        }
      }
      const oneHot = fallback === 'reference' ? position : fallback === 'next-token' && t + 1 < rLength ? position + 1 : -1;
      if (oneHot < 0) continue;
      topKIds[out] = receiver.tokenIds[oneHot] as number;
      topKLogits[out] = 0;
      source[position] = TeacherSource.Fallback;
      fallbackPositions++;
    }
    sOffset += sLength;
    rOffset += rLength;
  }
  const teacher: AlignedTeacher = {
    tokenizer: receiver.tokenizer,
    topK,
    lengths: receiver.lengths.slice(),
    topKIds,
    topKLogits,
    source,
    ce: sender.ce.slice(),
  };
  return { teacher, stats: { positions, teacherPositions, fallbackPositions } };
}

/** Map one sender position's top-K into receiver ids at `out`; returns the slots filled. */
function carryTopK(sender: PublicLogits, from: number, targetOf: Int32Array, scratch: SlotScratch, ids: Int32Array, logits: Float32Array, out: number): number {
  if (scratch.stamp === 0x3fffffff) {
    scratch.stampOf.fill(0);
    scratch.stamp = 0;
  }
  const stamp = ++scratch.stamp;
  let filled = 0;
  let sorted = true;
  for (let k = 0; k < sender.topK; k++) {
    const sid = sender.topKIds[from + k] as number;
    if (sid < 0) continue;
    const rid = targetOf[sid] as number;
    if (rid < 0) continue;
    const logit = sender.topKLogits[from + k] as number;
    if (scratch.stampOf[rid] === stamp) {
      const slot = out + (scratch.slotOf[rid] as number);
      if (logit > (logits[slot] as number)) {
        logits[slot] = logit;
        sorted = false;
      }
      continue;
    }
    scratch.stampOf[rid] = stamp;
    scratch.slotOf[rid] = filled;
    ids[out + filled] = rid;
    logits[out + filled] = logit;
    if (filled > 0 && logit > (logits[out + filled - 1] as number)) sorted = false;
    filled++;
  }
  if (!sorted) sortSlots(ids, logits, out, filled);
  return filled;
}

/** Highest logit first (insertion sort: K is small and the input nearly sorted). */
function sortSlots(ids: Int32Array, logits: Float32Array, out: number, filled: number): void {
  for (let a = 1; a < filled; a++) {
    const id = ids[out + a] as number;
    const logit = logits[out + a] as number;
    let b = a - 1;
    while (b >= 0 && (logits[out + b] as number) < logit) {
      ids[out + b + 1] = ids[out + b] as number;
      logits[out + b + 1] = logits[out + b] as number;
      b--;
    }
    ids[out + b + 1] = id;
    logits[out + b + 1] = logit;
  }
}
