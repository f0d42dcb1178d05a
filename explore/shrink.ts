/**
 * Delta debugging (Zeller and Hildebrandt 2002): the smallest set of a failing run's faults
 * and choices that still fails the same way, 1-minimal (dropping any one of them passes).
 */
export interface Shrunk<T> {
  items: T[];
  /** Runs tried. */
  runs: number;
  /** Stopped at the run budget before reaching 1-minimality. */
  truncated: boolean;
}

export async function ddmin<T>(items: readonly T[], fails: (subset: T[]) => Promise<boolean>, maxRuns = 2000): Promise<Shrunk<T>> {
  let runs = 0;
  const test = async (subset: T[]) => {
    runs++;
    return fails(subset);
  };
  let current = items.slice();
  if (current.length > 0 && (await test([]))) return { items: [], runs, truncated: false };
  let n = 2;
  while (current.length >= 2) {
    if (runs >= maxRuns) return { items: current, runs, truncated: true };
    const chunks = split(current, n);
    let reduced = false;
    for (const chunk of chunks) {
      if (chunks.length > 1 && (await test(chunk))) {
        current = chunk;
        n = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      for (let i = 0; i < chunks.length && chunks.length > 2; i++) {
        const complement = chunks.filter((_, j) => j !== i).flat();
        if (await test(complement)) {
          current = complement;
          n = Math.max(n - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(current.length, 2 * n);
    }
  }
  return { items: current, runs, truncated: false };
}

function split<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = start + Math.floor((items.length - start) / (n - i));
    if (end > start) out.push(items.slice(start, end));
    start = end;
  }
  return out;
}
