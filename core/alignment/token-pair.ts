import { normalisedVocab, type NormalisedVocab } from '../tokenizers/normalise.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { CodeAlphabet } from './code-alphabet.js';
import { dynamicTimeWarping, type DtwPath } from './dtw.js';
import { BitParallelPattern, levenshteinRange, MAX_PATTERN_LENGTH } from './levenshtein.js';
import type { VocabMap } from './mined.js';

/** How one sample's receiver positions relate to the sender's after dynamic time warping. */
export interface SampleAlignment {
  path: DtwPath;
  /** Per receiver position: the one sender position aligned to it, or -1 when several are. */
  senderOf: Int32Array;
  /** Per receiver position: 1 when that one sender token equals the receiver token. */
  matched: Uint8Array;
}

/**
 * A (sender, receiver) tokenizer pair ready for sequence alignment: both normalised views,
 * the sender-to-receiver MinED map, and token bodies (spellings without the word-start space)
 * in one dense alphabet for the local DTW cost.
 */
export class VocabPair {
  readonly senderVocab: NormalisedVocab;
  readonly receiverVocab: NormalisedVocab;
  /** Same content hash: ids mean the same tokens on both sides. */
  readonly identical: boolean;
  private readonly senderCodes: Int32Array;
  private readonly receiverCodes: Int32Array;
  private readonly pattern: BitParallelPattern;
  private costs = new Float64Array(1024);

  constructor(
    readonly sender: Tokenizer,
    readonly receiver: Tokenizer,
    readonly map: VocabMap,
  ) {
    if (map.source.contentHash !== sender.contentHash || map.target.contentHash !== receiver.contentHash) {
      throw new Error(`VocabPair: the vocab map goes ${map.source.name} -> ${map.target.name}, not ${sender.name} -> ${receiver.name}`);
    }
    this.senderVocab = normalisedVocab(sender);
    this.receiverVocab = normalisedVocab(receiver);
    this.identical = sender.contentHash === receiver.contentHash;
    const alphabet = new CodeAlphabet(this.identical ? [this.senderVocab] : [this.senderVocab, this.receiverVocab]);
    this.senderCodes = alphabet.encode(this.senderVocab);
    this.receiverCodes = this.identical ? this.senderCodes : alphabet.encode(this.receiverVocab);
    this.pattern = new BitParallelPattern(alphabet.size);
  }

  /**
   * Whether a sender token stands for the receiver token: same normalised spelling, or mapped
   * to it. With `ignoreWordStart` the word-start space is not compared: at a sample's first
   * position it only says whether the tokenizer adds a dummy prefix (LLaMA's `▁we` against
   * GPT-2's `we`), both having seen the same text.
   */
  tokensMatch(senderId: number, receiverId: number, ignoreWordStart = false): boolean {
    if (this.map.targetOf[senderId] === receiverId) return true;
    const s = this.senderVocab;
    const r = this.receiverVocab;
    if (s.isSpecial(senderId) || r.isSpecial(receiverId)) return false;
    const sStart = ignoreWordStart ? s.bodyStart(senderId) : (s.offsets[senderId] as number);
    const rStart = ignoreWordStart ? r.bodyStart(receiverId) : (r.offsets[receiverId] as number);
    const length = (s.offsets[senderId + 1] as number) - sStart;
    if (length !== (r.offsets[receiverId + 1] as number) - rStart) return false;
    for (let i = 0; i < length; i++) {
      if (s.codePoints[sStart + i] !== r.codePoints[rStart + i]) return false;
    }
    return true;
  }

  /**
   * Local DTW cost: Levenshtein distance of the token bodies (markers stripped). A special token
   * counts as one symbol: 0 against a special of a shared role (or its mapped counterpart).
   */
  tokenCost(senderId: number, receiverId: number): number {
    const s = this.senderVocab;
    const r = this.receiverVocab;
    const sSpecial = s.isSpecial(senderId);
    const rSpecial = r.isSpecial(receiverId);
    if (sSpecial || rSpecial) return this.specialCost(senderId, sSpecial, receiverId, rSpecial);
    return levenshteinRange(
      this.senderCodes,
      s.bodyStart(senderId),
      s.offsets[senderId + 1] as number,
      this.receiverCodes,
      r.bodyStart(receiverId),
      r.offsets[receiverId + 1] as number,
    );
  }

  private specialCost(senderId: number, sSpecial: boolean, receiverId: number, rSpecial: boolean): number {
    if (sSpecial && rSpecial) {
      const sharedRole = ((this.senderVocab.roles[senderId] as number) & (this.receiverVocab.roles[receiverId] as number)) !== 0;
      return sharedRole || this.map.targetOf[senderId] === receiverId ? 0 : 1;
    }
    const bodyLength = sSpecial
      ? (this.receiverVocab.offsets[receiverId + 1] as number) - this.receiverVocab.bodyStart(receiverId)
      : (this.senderVocab.offsets[senderId + 1] as number) - this.senderVocab.bodyStart(senderId);
    return Math.max(1, bodyLength);
  }

  /**
   * Warp sender tokens `senderIds[sStart, sStart + sLength)` onto receiver tokens
   * `receiverIds[rStart, rStart + rLength)` (ids must be valid; see align-logits.ts).
   */
  alignSample(senderIds: ArrayLike<number>, sStart: number, sLength: number, receiverIds: ArrayLike<number>, rStart: number, rLength: number): SampleAlignment {
    const cells = sLength * rLength;
    if (this.costs.length < cells) this.costs = new Float64Array(2 * cells);
    const costs = this.costs;
    const s = this.senderVocab;
    const r = this.receiverVocab;
    for (let j = 0; j < rLength; j++) {
      const rid = receiverIds[rStart + j] as number;
      const rSpecial = r.isSpecial(rid);
      const rBody = r.bodyStart(rid);
      const rEnd = r.offsets[rid + 1] as number;
      const useBitParallel = !rSpecial && rEnd - rBody <= MAX_PATTERN_LENGTH;
      if (useBitParallel) this.pattern.load(this.receiverCodes, rBody, rEnd);
      for (let i = 0; i < sLength; i++) {
        const sid = senderIds[sStart + i] as number;
        const sSpecial = s.isSpecial(sid);
        let cost: number;
        if (sSpecial || rSpecial) cost = this.specialCost(sid, sSpecial, rid, rSpecial);
        else if (useBitParallel) cost = this.pattern.distance(this.senderCodes, s.bodyStart(sid), s.offsets[sid + 1] as number, Infinity);
        else cost = this.tokenCost(sid, rid);
        costs[i * rLength + j] = cost;
      }
    }
    const path = dynamicTimeWarping(costs, sLength, rLength);
    const senderOf = new Int32Array(rLength).fill(-2);
    for (let p = 0; p < path.cols.length; p++) {
      const j = path.cols[p] as number;
      senderOf[j] = senderOf[j] === -2 ? (path.rows[p] as number) : -1;
    }
    const matched = new Uint8Array(rLength);
    for (let j = 0; j < rLength; j++) {
      const i = senderOf[j] as number;
      if (i === -2) senderOf[j] = -1;
      else if (i >= 0 && this.tokensMatch(senderIds[sStart + i] as number, receiverIds[rStart + j] as number, i === 0 && j === 0)) {
        matched[j] = 1;
      }
    }
    return { path, senderOf, matched };
  }
}
