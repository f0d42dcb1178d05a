/**
 * Rouge-L F-measure with the conventions of Google's rouge-score package
 * (rouge_score/tokenize.py and rouge_scorer.py, use_stemmer=False):
 * - tokenize: lower-case, replace every run of characters outside [a-z0-9] with a space, split
 *   on whitespace, drop empty tokens (so non-ASCII letters are separators too);
 * - rougeL: LCS length over tokens; precision = lcs / |prediction|, recall = lcs / |target|,
 *   F = 2PR / (P + R) (0 when P + R = 0); an empty target or prediction scores 0.
 * Note rouge-score's argument order is score(target, prediction).
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export function rougeTokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/** Length of the longest common subsequence of two token lists. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  let curr = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      curr[j] = a[i - 1] === b[j - 1] ? (prev[j - 1] as number) + 1 : Math.max(prev[j] as number, curr[j - 1] as number);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length] as number;
}

export function rougeL(target: string, prediction: string): RougeScore {
  const t = rougeTokenize(target);
  const p = rougeTokenize(prediction);
  if (t.length === 0 || p.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(t, p);
  const precision = lcs / p.length;
  const recall = lcs / t.length;
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

/** Mean Rouge-L F over samples, references[i] against predictions[i]. */
export function meanRougeLF(references: readonly string[], predictions: readonly string[]): number {
  if (references.length !== predictions.length) {
    throw new Error(`meanRougeLF: ${references.length} references but ${predictions.length} predictions`);
  }
  if (references.length === 0) throw new Error('meanRougeLF: no samples');
  let sum = 0;
  references.forEach((ref, i) => (sum += rougeL(ref, predictions[i] as string).fmeasure));
  return sum / references.length;
}
