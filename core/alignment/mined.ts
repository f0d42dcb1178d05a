import { normalisedVocab, type NormalisedVocab } from '../tokenizers/normalise.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { levenshteinRange } from './levenshtein.js';
import { exactSpellings, minedCandidates, pinnedSpecialTarget } from './mined-candidates.js';
import { MinedSearch } from './mined-search.js';

/**
 * MinED vocabulary mapping (FuseLLM, used by FedMKT): every source token maps to the target
 * token of minimum edit distance, ties to the lowest target id, an exact spelling being
 * distance 0. Spellings are the normalised ones (see normalise.ts): the word-start marker is a
 * leading space on both sides (the reference's "replace the marker by the target's"), bytes
 * are compared as bytes. Special tokens never take part in spelling matches: they are pinned
 * to the target special of the same content, else of the same role.
 *
 * Which target tokens are candidates: see mined-candidates.ts. Brute force is kept as the
 * reference; {@link MinedSearch} gives the same answers far faster.
 */

export interface VocabMapSide {
  name: string;
  contentHash: string;
  vocabSize: number;
}

export interface VocabMap {
  source: VocabMapSide;
  target: VocabMapSide;
  /** Target id of every source id; -1 for a special token with no counterpart in the target. */
  targetOf: Int32Array;
  /** Edit distance of each source token to its target (0: exact or pinned special; -1: unmapped). */
  distance: Int32Array;
}

/** Targets and distances of some source ids (the parallel arrays of a {@link VocabMap}). */
export interface MinedTargets {
  targetOf: Int32Array;
  distance: Int32Array;
}

function checkSourceIds(source: NormalisedVocab, sourceIds: ArrayLike<number>): void {
  for (let i = 0; i < sourceIds.length; i++) {
    const id = sourceIds[i] as number;
    if (!Number.isInteger(id) || id < 0 || id >= source.size) {
      throw new Error(`MinED: sourceIds[${i}] = ${id} is outside the vocabulary of "${source.tokenizer.name}" [0, ${source.size})`);
    }
  }
}

/** Reference MinED: exact spelling, else the edit distance to every candidate. |V_s|·|V_t| work. */
export function bruteForceTargets(source: Tokenizer, target: Tokenizer, sourceIds: ArrayLike<number>): MinedTargets {
  const src = normalisedVocab(source);
  const tgt = normalisedVocab(target);
  checkSourceIds(src, sourceIds);
  const candidates = minedCandidates(tgt);
  const exact = exactSpellings(tgt, candidates);
  const targetOf = new Int32Array(sourceIds.length);
  const distance = new Int32Array(sourceIds.length);
  const scp = src.codePoints;
  const tcp = tgt.codePoints;
  for (let i = 0; i < sourceIds.length; i++) {
    const sid = sourceIds[i] as number;
    if (src.isSpecial(sid)) {
      const pinned = pinnedSpecialTarget(src, sid, tgt);
      targetOf[i] = pinned;
      distance[i] = pinned < 0 ? -1 : 0;
      continue;
    }
    const same = exact.get(src.spelling(sid));
    if (same !== undefined) {
      targetOf[i] = same;
      distance[i] = 0;
      continue;
    }
    const qs = src.offsets[sid] as number;
    const qe = src.offsets[sid + 1] as number;
    let best = Number.MAX_SAFE_INTEGER;
    let bestId = -1;
    for (const tid of candidates) {
      const d = levenshteinRange(scp, qs, qe, tcp, tgt.offsets[tid] as number, tgt.offsets[tid + 1] as number);
      if (d < best) {
        best = d;
        bestId = tid;
      }
    }
    targetOf[i] = bestId;
    distance[i] = best;
  }
  return { targetOf, distance };
}

function allIds(size: number): Int32Array {
  const ids = new Int32Array(size);
  for (let i = 0; i < size; i++) ids[i] = i;
  return ids;
}

function side(tokenizer: Tokenizer): VocabMapSide {
  return { name: tokenizer.name, contentHash: tokenizer.contentHash, vocabSize: tokenizer.vocabSize };
}

export function bruteForceVocabMap(source: Tokenizer, target: Tokenizer): VocabMap {
  const { targetOf, distance } = bruteForceTargets(source, target, allIds(source.vocabSize));
  return { source: side(source), target: side(target), targetOf, distance };
}

/** Exact MinED, fast: see {@link MinedSearch}. */
export function minedTargets(source: Tokenizer, target: Tokenizer, sourceIds: ArrayLike<number>): MinedTargets {
  const search = new MinedSearch(normalisedVocab(source), normalisedVocab(target));
  checkSourceIds(search.source, sourceIds);
  const targetOf = new Int32Array(sourceIds.length);
  const distance = new Int32Array(sourceIds.length);
  for (let i = 0; i < sourceIds.length; i++) {
    search.nearest(sourceIds[i] as number);
    targetOf[i] = search.foundId;
    distance[i] = search.foundDistance;
  }
  return { targetOf, distance };
}

export function minedVocabMap(source: Tokenizer, target: Tokenizer): VocabMap {
  const { targetOf, distance } = minedTargets(source, target, allIds(source.vocabSize));
  return { source: side(source), target: side(target), targetOf, distance };
}
