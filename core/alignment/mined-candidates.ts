import { SpecialRole, TokenKind, type NormalisedVocab, type SpecialRoleName } from '../tokenizers/normalise.js';

/**
 * What MinED may map to. Special tokens never take part in spelling matches: they are pinned to
 * the target special of the same content, else of the same role. Candidates are the target's
 * non-special tokens in id order, except byte-fallback tokens spelled like a text token
 * (LLaMA's `<0x41>` next to `A`): the target tokenizer never emits those for that text.
 */

/** Which special role a multi-role token (GPT-2's `<|endoftext|>`) is pinned by first. */
const ROLE_PRIORITY: readonly SpecialRoleName[] = ['eos', 'bos', 'pad', 'unk'];

/** A special source token's target: same content, else same role (pad falls back to eos), else -1. */
export function pinnedSpecialTarget(source: NormalisedVocab, sourceId: number, target: NormalisedVocab): number {
  const byContent = target.specialByContent.get(source.tokenizer.idToToken(sourceId));
  if (byContent !== undefined) return byContent;
  const roles = source.roles[sourceId] as number;
  const specials = target.tokenizer.specials;
  for (const role of ROLE_PRIORITY) {
    const pinned = specials[role];
    if ((roles & SpecialRole[role]) !== 0 && pinned !== undefined) return pinned;
  }
  if ((roles & SpecialRole.pad) !== 0 && specials.eos !== undefined) return specials.eos;
  return -1;
}

/** Target ids MinED may choose, ascending. */
export function minedCandidates(target: NormalisedVocab): Int32Array {
  const textSpellings = new Set<string>();
  for (let id = 0; id < target.size; id++) {
    if (target.kind[id] === TokenKind.Text) textSpellings.add(target.spelling(id));
  }
  const ids: number[] = [];
  for (let id = 0; id < target.size; id++) {
    const kind = target.kind[id];
    if (kind === TokenKind.Special) continue;
    if (kind === TokenKind.Byte && textSpellings.has(target.spelling(id))) continue;
    ids.push(id);
  }
  if (ids.length === 0) throw new Error(`MinED: target tokenizer "${target.tokenizer.name}" has no non-special tokens`);
  return Int32Array.from(ids);
}

/** Lowest candidate id of each normalised spelling: the distance-0 answers. */
export function exactSpellings(target: NormalisedVocab, candidates: Int32Array): Map<string, number> {
  const exact = new Map<string, number>();
  for (const id of candidates) {
    const spelling = target.spelling(id);
    if (!exact.has(spelling)) exact.set(spelling, id);
  }
  return exact;
}
