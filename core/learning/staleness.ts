/**
 * Staleness of an asynchronous upload and the weight its teacher gets (FedAsync, Xie et al.
 * 2019): an SLM upload made against LLM version v and used to make version V+1 is s = V - v
 * versions stale. The server's DualMinCE ranks it by its cross-entropy divided by w(s), so a
 * stale SLM must be 1/w(s) times better than a fresh candidate to be chosen (docs/async.md).
 */

/** `constant`: w = 1; `polynomial`: w = (1 + s)^-a; `hinge`: w = 1 for s <= b, else 1 / (a (s - b) + 1). */
export type StalenessWeighting = { kind: 'constant' } | { kind: 'polynomial'; a: number } | { kind: 'hinge'; a: number; b: number };

export function stalenessWeight(weighting: StalenessWeighting, staleness: number): number {
  if (!Number.isInteger(staleness) || staleness < 0) throw new Error(`staleness must be a whole number of versions >= 0, got ${staleness}`);
  switch (weighting.kind) {
    case 'constant':
      return 1;
    case 'polynomial':
      return (1 + staleness) ** -weighting.a;
    case 'hinge':
      return staleness <= weighting.b ? 1 : 1 / (weighting.a * (staleness - weighting.b) + 1);
  }
}

/** The cross-entropy DualMinCE ranks a teacher by: its own, divided by its staleness weight. */
export function discountedCE(ce: number, weight: number): number {
  return weight === 1 ? ce : weight > 0 ? ce / weight : Number.POSITIVE_INFINITY;
}
