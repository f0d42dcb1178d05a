import type { NormalisedVocab } from '../tokenizers/normalise.js';
import { addSignature, CodeAlphabet, popcount, SIGNATURE_WORDS } from './code-alphabet.js';
import { DeletionLevel, DeletionScratch, forEachDeletionVariant } from './deletion-index.js';
import { BitParallelPattern, levenshteinRange, MAX_PATTERN_LENGTH } from './levenshtein.js';
import { exactSpellings, minedCandidates, pinnedSpecialTarget } from './mined-candidates.js';

/** Deletion levels indexed: queries within distance 2 are answered by hash lookups. */
const INDEXED_DELETIONS = 2;
const NONE = 0x3fffffff;
/** Thresholds tried past the index before switching to branch and bound. */
const THRESHOLD_STEPS = 3;
/** Candidates per block when merging posting lists in id order (a multiple of 32). */
const POSTING_BLOCK = 2048;

/**
 * Exact nearest-candidate search giving the brute-force answer. The distance threshold k rises
 * one step at a time; once threshold k - 1 has found nothing, every candidate is at least k
 * away, so the lowest id within k is the answer.
 * - k <= 2: deletion-index lookups find every candidate within k.
 * - k >= 3, query longer than k: a candidate within k keeps more than m - k of the query's
 *   positions, so it holds at least one symbol of any set of query symbols covering more than
 *   k positions; the rarest such set's posting lists give the candidates.
 * - otherwise: length buckets within k of the query's length, each read in id order up to the
 *   lowest hit so far.
 * After three thresholds past the index without a hit (far, odd spellings), and for queries
 * over 32 symbols, branch and bound takes over (see {@link MinedSearch.branchAndBound}).
 * Candidates are screened by length difference and 128-bit character signatures before a
 * bit-parallel distance; distances are remembered per query.
 */
export class MinedSearch {
  /** Result of the last {@link nearest}: target id (-1 if none) and its distance. */
  foundId = -1;
  foundDistance = -1;

  private readonly candidates: Int32Array;
  private readonly exact: Map<string, number>;
  private readonly sourceCodes: Int32Array;
  private readonly targetCodes: Int32Array;
  private readonly candStart: Int32Array;
  private readonly candLength: Int32Array;
  /** {@link SIGNATURE_WORDS} words per candidate. */
  private readonly signatures: Int32Array;
  private readonly querySignature = new Int32Array(SIGNATURE_WORDS);
  private readonly queryBitPositions = new Int32Array(SIGNATURE_WORDS * 32);
  /** Candidate indexes grouped by spelling length: bucket L is `bucketItems[bucketStart[L], bucketStart[L + 1])`. */
  private readonly bucketStart: Int32Array;
  private readonly bucketItems: Int32Array;
  private readonly maxLength: number;
  private readonly levels: DeletionLevel[] = [];
  private readonly pattern: BitParallelPattern;
  private readonly reversePattern: BitParallelPattern;
  private readonly scratch = new DeletionScratch();
  /** Per query (`knownStamp[c] === stamp`): exact distance of candidate c already computed. */
  private readonly knownStamp: Int32Array;
  private readonly knownDistance: Int32Array;
  private stamp = 0;
  /** Candidates holding each dense code, ascending: `postingItems[postingStart[c], postingStart[c + 1])`. */
  private readonly postingStart: Int32Array;
  private readonly postingItems: Int32Array;
  /** Candidates to verify at the current threshold, as a bitset read in id order. */
  private readonly pending: Int32Array;
  /** The query's distinct codes and their position counts, rarest posting first. */
  private readonly queryCodes = new Int32Array(MAX_PATTERN_LENGTH);
  private readonly queryCodeCounts = new Int32Array(MAX_PATTERN_LENGTH);
  private queryCodeCount = 0;
  private readonly postingCursors = new Int32Array(MAX_PATTERN_LENGTH);
  // Per-query state.
  private qStart = 0;
  private qLength = 0;
  private bestDistance = NONE;
  private bestItem = NONE;
  /** Closest candidate verified so far in this query: an upper bound for branch and bound. */
  private closestDistance = NONE;
  private closestItem = NONE;

  constructor(
    readonly source: NormalisedVocab,
    readonly target: NormalisedVocab,
  ) {
    this.candidates = minedCandidates(target);
    this.exact = exactSpellings(target, this.candidates);
    const alphabet = new CodeAlphabet([target, source]);
    this.sourceCodes = alphabet.encode(source);
    this.targetCodes = alphabet.encode(target);
    this.pattern = new BitParallelPattern(alphabet.size);
    this.reversePattern = new BitParallelPattern(alphabet.size);
    const count = this.candidates.length;
    this.candStart = new Int32Array(count);
    this.candLength = new Int32Array(count);
    this.signatures = new Int32Array(count * SIGNATURE_WORDS);
    this.knownStamp = new Int32Array(count);
    this.knownDistance = new Int32Array(count);
    this.pending = new Int32Array((count + 31) >>> 5);
    let maxLength = 0;
    for (let c = 0; c < count; c++) {
      const id = this.candidates[c] as number;
      const start = target.offsets[id] as number;
      const length = (target.offsets[id + 1] as number) - start;
      this.candStart[c] = start;
      this.candLength[c] = length;
      addSignature(this.targetCodes, start, start + length, this.signatures, c * SIGNATURE_WORDS);
      if (length > maxLength) maxLength = length;
    }
    this.maxLength = maxLength;
    const postings = groupItems(alphabet.size, (visit) => {
      const lastItem = new Int32Array(alphabet.size).fill(-1);
      for (let c = 0; c < count; c++) {
        const start = this.candStart[c] as number;
        for (let p = start; p < start + (this.candLength[c] as number); p++) {
          const code = this.targetCodes[p] as number;
          if (lastItem[code] === c) continue;
          lastItem[code] = c;
          visit(code, c);
        }
      }
    });
    this.postingStart = postings.start;
    this.postingItems = postings.items;
    const buckets = groupItems(maxLength + 1, (visit) => {
      for (let c = 0; c < count; c++) visit(this.candLength[c] as number, c);
    });
    this.bucketStart = buckets.start;
    this.bucketItems = buckets.items;
    for (let j = 0; j <= INDEXED_DELETIONS; j++) {
      let expected = 0;
      for (let c = 0; c < count; c++) expected += binomial(this.candLength[c] as number, j);
      const level = new DeletionLevel(j, expected);
      for (let c = count - 1; c >= 0; c--) {
        forEachDeletionVariant(this.targetCodes, this.candStart[c] as number, this.candLength[c] as number, j, this.scratch, (hash) => level.insert(hash, c));
      }
      this.levels.push(level);
    }
  }

  /** Sets {@link foundId} and {@link foundDistance} for `sourceId`. */
  nearest(sourceId: number): void {
    const src = this.source;
    if (src.isSpecial(sourceId)) {
      this.foundId = pinnedSpecialTarget(src, sourceId, this.target);
      this.foundDistance = this.foundId < 0 ? -1 : 0;
      return;
    }
    const same = this.exact.get(src.spelling(sourceId));
    if (same !== undefined) {
      this.foundId = same;
      this.foundDistance = 0;
      return;
    }
    this.qStart = src.offsets[sourceId] as number;
    this.qLength = (src.offsets[sourceId + 1] as number) - this.qStart;
    if (this.qLength <= MAX_PATTERN_LENGTH) this.pattern.load(this.sourceCodes, this.qStart, this.qStart + this.qLength);
    this.bestDistance = NONE;
    this.bestItem = NONE;
    this.closestDistance = NONE;
    this.closestItem = NONE;
    this.stamp++;
    let found = false;
    for (let k = 1; k <= INDEXED_DELETIONS && !found; k++) found = this.searchLevel(k);
    if (!found) this.searchBeyondIndex(INDEXED_DELETIONS + 1);
    this.foundId = this.candidates[this.bestItem] as number;
    this.foundDistance = this.bestDistance;
  }

  /** Candidates within distance k via the deletion index; true once the answer is certain. */
  private searchLevel(k: number): boolean {
    const visitLevels = (queryDeletions: number, fromLevel: number, toLevel: number) => {
      forEachDeletionVariant(this.sourceCodes, this.qStart, this.qLength, queryDeletions, this.scratch, (hash) => {
        for (let j = fromLevel; j <= toLevel; j++) this.visitChain(this.levels[j] as DeletionLevel, hash, k);
      });
    };
    // Only pairs (query deletions i, candidate deletions j) with max(i, j) = k are new at level k.
    visitLevels(k, 0, k);
    for (let i = 0; i < k; i++) visitLevels(i, k, k);
    return this.bestDistance <= k;
  }

  private visitChain(level: DeletionLevel, hash: number, k: number): void {
    for (let e = level.firstEntry(hash); e >= 0; e = level.entryNext(e)) {
      const item = level.entryItem(e);
      // Chains ascend by candidate; every candidate is >= k away, so a later one cannot win a tie.
      if (this.bestDistance <= k && item > this.bestItem) return;
      if (!level.entryMatches(e, hash) || this.knownStamp[item] === this.stamp) continue;
      const d = this.distanceTo(item);
      if (d < this.bestDistance || (d === this.bestDistance && item < this.bestItem)) {
        this.bestDistance = d;
        this.bestItem = item;
      }
    }
  }

  /** Every candidate is at least `lowerBound` away (see the class comment). */
  private searchBeyondIndex(lowerBound: number): void {
    const m = this.qLength;
    const q = this.querySignature;
    q.fill(0);
    addSignature(this.sourceCodes, this.qStart, this.qStart + m, q, 0);
    const positions = this.queryBitPositions;
    positions.fill(0);
    for (let p = this.qStart; p < this.qStart + m; p++) {
      const bit = (this.sourceCodes[p] as number) & (SIGNATURE_WORDS * 32 - 1);
      positions[bit] = (positions[bit] as number) + 1;
    }
    if (m > MAX_PATTERN_LENGTH) {
      this.branchAndBound(lowerBound);
      return;
    }
    this.collectQueryCodes();
    const lastThreshold = lowerBound + THRESHOLD_STEPS - 1;
    for (let k = lowerBound; k <= lastThreshold; k++) {
      const hit = m > k ? this.searchPostings(k) : this.searchBuckets(k);
      if (hit !== NONE) {
        this.bestDistance = k;
        this.bestItem = hit;
        return;
      }
    }
    this.branchAndBound(lastThreshold + 1);
  }

  /**
   * Far queries (long, odd spellings): length buckets outward from the query's length, each
   * candidate screened against the best distance so far, until the length difference alone
   * exceeds it. Long spellings have few neighbours in length, so this beats more thresholds.
   */
  private branchAndBound(lowerBound: number): void {
    const m = this.qLength;
    let best = this.closestDistance;
    let bestItem = this.closestItem;
    for (let delta = 0; delta <= best; delta++) {
      for (let side = 0; side < (delta === 0 ? 1 : 2); side++) {
        const length = side === 0 ? m - delta : m + delta;
        if (length < 0 || length > this.maxLength) continue;
        const end = this.bucketStart[length + 1] as number;
        for (let b = this.bucketStart[length] as number; b < end; b++) {
          const item = this.bucketItems[b] as number;
          if (best <= lowerBound && item > bestItem) break;
          const bound = Math.max(delta, this.signatureBound(item));
          if (bound > best || (bound === best && item > bestItem)) continue;
          const d = this.distanceTo(item);
          if (d < best || (d === best && item < bestItem)) {
            best = d;
            bestItem = item;
          }
        }
      }
    }
    this.bestDistance = best;
    this.bestItem = bestItem;
  }

  /** The query's distinct codes with their counts, sorted by posting length. */
  private collectQueryCodes(): void {
    let n = 0;
    for (let p = this.qStart; p < this.qStart + this.qLength; p++) {
      const code = this.sourceCodes[p] as number;
      let i = 0;
      while (i < n && this.queryCodes[i] !== code) i++;
      if (i === n) {
        this.queryCodes[n] = code;
        this.queryCodeCounts[n++] = 0;
      }
      this.queryCodeCounts[i] = (this.queryCodeCounts[i] as number) + 1;
    }
    const postingLength = (code: number) => (this.postingStart[code + 1] as number) - (this.postingStart[code] as number);
    for (let i = 1; i < n; i++) {
      const code = this.queryCodes[i] as number;
      const count = this.queryCodeCounts[i] as number;
      let j = i - 1;
      while (j >= 0 && postingLength(this.queryCodes[j] as number) > postingLength(code)) {
        this.queryCodes[j + 1] = this.queryCodes[j] as number;
        this.queryCodeCounts[j + 1] = this.queryCodeCounts[j] as number;
        j--;
      }
      this.queryCodes[j + 1] = code;
      this.queryCodeCounts[j + 1] = count;
    }
    this.queryCodeCount = n;
  }

  /**
   * Lowest candidate within k among the postings of the rarest codes covering more than k
   * positions. The postings are merged block by block in id order, so the search stops at the
   * first block holding a hit.
   */
  private searchPostings(k: number): number {
    const m = this.qLength;
    const pending = this.pending;
    const cursors = this.postingCursors;
    let lists = 0;
    let covered = 0;
    for (let i = 0; i < this.queryCodeCount && covered <= k; i++) {
      const code = this.queryCodes[i] as number;
      covered += this.queryCodeCounts[i] as number;
      cursors[lists++] = this.postingStart[code] as number;
    }
    const codes = this.queryCodes;
    for (let blockStart = 0; blockStart < this.candidates.length; blockStart += POSTING_BLOCK) {
      const blockEnd = blockStart + POSTING_BLOCK;
      let any = false;
      for (let l = 0; l < lists; l++) {
        const end = this.postingStart[(codes[l] as number) + 1] as number;
        let e = cursors[l] as number;
        for (; e < end; e++) {
          const item = this.postingItems[e] as number;
          if (item >= blockEnd) break;
          const delta = (this.candLength[item] as number) - m;
          if (delta > k || delta < -k) continue;
          pending[item >>> 5] = (pending[item >>> 5] as number) | (1 << (item & 31));
          any = true;
        }
        cursors[l] = e;
      }
      if (!any) continue;
      let hit = NONE;
      for (let word = blockStart >>> 5; word < blockEnd >>> 5 && word < pending.length; word++) {
        let bits = pending[word] as number;
        pending[word] = 0;
        while (bits !== 0 && hit === NONE) {
          const low = bits & -bits;
          bits ^= low;
          const item = (word << 5) | (31 - Math.clz32(low));
          if (this.withinThreshold(item, k)) hit = item;
        }
      }
      if (hit !== NONE) return hit;
    }
    return NONE;
  }

  /** Lowest candidate within k, reading each length bucket within k of the query's in id order. */
  private searchBuckets(k: number): number {
    const m = this.qLength;
    let hit = NONE;
    for (let r = 0; r <= k; r++) {
      for (let side = 0; side < (r === 0 ? 1 : 2); side++) {
        const length = side === 0 ? m - r : m + r;
        if (length < 0 || length > this.maxLength) continue;
        const end = this.bucketStart[length + 1] as number;
        for (let b = this.bucketStart[length] as number; b < end; b++) {
          const item = this.bucketItems[b] as number;
          if (item > hit) break;
          if (this.withinThreshold(item, k)) hit = item;
        }
      }
    }
    return hit;
  }

  /** Whether candidate `item` is within k of the query, screening by signatures first. */
  private withinThreshold(item: number, k: number): boolean {
    if (this.knownStamp[item] === this.stamp) return (this.knownDistance[item] as number) <= k;
    return this.signatureBound(item) <= k && this.distanceTo(item) <= k;
  }

  /**
   * Lower bound on the distance to candidate `item` from character signatures: symbols (by
   * signature bit) the query lacks, and query positions whose symbol the candidate lacks, each
   * need an edit of their own. Exact when the distance is already known.
   */
  private signatureBound(item: number): number {
    if (this.knownStamp[item] === this.stamp) return this.knownDistance[item] as number;
    const q = this.querySignature;
    const sig = this.signatures;
    const w = item * SIGNATURE_WORDS;
    let extra = 0;
    let missing = 0;
    for (let word = 0; word < SIGNATURE_WORDS; word++) {
      const c = sig[w + word] as number;
      const qw = q[word] as number;
      extra += popcount(c & ~qw);
      let bits = qw & ~c;
      while (bits !== 0) {
        const low = bits & -bits;
        bits ^= low;
        missing += this.queryBitPositions[(word << 5) | (31 - Math.clz32(low))] as number;
      }
    }
    return Math.max(extra, missing);
  }

  /** Exact distance between the query and candidate `item`, remembered for this query. */
  private distanceTo(item: number): number {
    if (this.knownStamp[item] === this.stamp) return this.knownDistance[item] as number;
    const start = this.candStart[item] as number;
    const length = this.candLength[item] as number;
    const m = this.qLength;
    let d: number;
    if (m <= MAX_PATTERN_LENGTH) {
      d = this.pattern.distance(this.targetCodes, start, start + length, NONE);
    } else if (length <= MAX_PATTERN_LENGTH) {
      this.reversePattern.load(this.targetCodes, start, start + length);
      d = this.reversePattern.distance(this.sourceCodes, this.qStart, this.qStart + m, NONE);
    } else {
      d = levenshteinRange(this.sourceCodes, this.qStart, this.qStart + m, this.targetCodes, start, start + length);
    }
    this.knownStamp[item] = this.stamp;
    this.knownDistance[item] = d;
    if (d < this.closestDistance || (d === this.closestDistance && item < this.closestItem)) {
      this.closestDistance = d;
      this.closestItem = item;
    }
    return d;
  }
}

function binomial(n: number, k: number): number {
  if (k > n) return 0;
  let result = 1;
  for (let i = 0; i < k; i++) result = (result * (n - i)) / (i + 1);
  return Math.round(result);
}

/**
 * Items grouped by key (counting sort), in visiting order within each group: group k is
 * `items[start[k], start[k + 1])`. `forEach` must visit the same pairs each time it is called.
 */
function groupItems(keyCount: number, forEach: (visit: (key: number, item: number) => void) => void): { start: Int32Array; items: Int32Array } {
  const start = new Int32Array(keyCount + 1);
  forEach((key) => {
    start[key + 1] = (start[key + 1] as number) + 1;
  });
  for (let k = 0; k < keyCount; k++) start[k + 1] = (start[k + 1] as number) + (start[k] as number);
  const items = new Int32Array(start[keyCount] as number);
  const fill = start.slice(0, keyCount);
  forEach((key, item) => {
    items[fill[key] as number] = item;
    fill[key] = (fill[key] as number) + 1;
  });
  return { start, items };
}
