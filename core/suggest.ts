/**
 * "Did you mean": the known name closest to a mistyped one, for error messages.
 */
import { levenshtein } from './alignment/levenshtein.js';

const codes = (s: string): number[] => Array.from(s.toLowerCase(), (c) => c.codePointAt(0)!);

/** The closest candidate within a third of the word's length in edits (two for short words: a swap), if one is. */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(word.length - 1, Math.max(2, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = levenshtein(codes(word), codes(candidate));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing when no candidate is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const close = closestName(word, candidates);
  return close === undefined ? '' : ` (did you mean "${close}"?)`;
}

/** `unknown tokenizer "gpt7" (known: gpt2, opt, ...; did you mean "gpt2"?)`: the known names listed, the close one named. */
export function unknownName(what: string, word: string, known: readonly string[]): string {
  const close = closestName(word, known);
  return `unknown ${what} "${word}" (known: ${known.join(', ')}${close === undefined ? '' : `; did you mean "${close}"?`})`;
}
