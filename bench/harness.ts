/**
 * Benchmarks print one JSON line per figure. A figure compared against a baseline measured
 * in the same run carries `baseline` and `ratio` (value / baseline unless stated).
 * Each `bench/*.bench.ts` default-exports a list of {@link Benchmark}.
 */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  [detail: string]: unknown;
}

export interface Benchmark {
  /** `npm run bench -- WORD` runs the benchmarks whose name contains WORD. */
  name: string;
  run(): Promise<Figure[]>;
}

/** Median wall seconds of `fn` over `repeats` runs after one warm-up. */
export async function timeIt(fn: () => unknown | Promise<unknown>, repeats = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
