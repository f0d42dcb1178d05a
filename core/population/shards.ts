/**
 * Private shards of a population, drawn lazily: client i's shard is a pure function of the seed,
 * i and the pool (the task's training examples outside the public set), made when i is selected
 * and dropped when its round ends. With more clients than the pool can give distinct examples,
 * shards overlap (the run says so); within one shard an example repeats only when the shard is
 * larger than its source.
 */
import { apportion } from '../data/split.js';
import { Random } from '../random.js';

export interface ShardPool<T> {
  domains: readonly string[];
  /** The pool's examples of each domain (indexed like `domains`). */
  byDomain: readonly (readonly T[])[];
  all: readonly T[];
}

export type PopulationSplit = { split: 'iid' } | { split: 'dirichlet'; alpha: number } | { split: 'domain'; otherDomainShare: number };

export function shardPool<T extends { domain: string }>(examples: readonly T[]): ShardPool<T> {
  const domains = [...new Set(examples.map((e) => e.domain))].sort();
  return { domains, byDomain: domains.map((d) => examples.filter((e) => e.domain === d)), all: examples };
}

/** Whether `count` shards of `size` must share examples. */
export function shardsOverlap(pool: ShardPool<unknown>, count: number, size: number): boolean {
  return count * size > pool.all.length;
}

/** Client `index`'s shard of `size` examples. */
export function shardOf<T>(pool: ShardPool<T>, seed: number, index: number, size: number, split: PopulationSplit): T[] {
  const rng = Random.stream(seed, `population/shard/${index}`);
  if (split.split === 'iid' || pool.domains.length < 2) return draw(pool.all, size, rng);
  const weights =
    split.split === 'dirichlet'
      ? pool.domains.map(() => rng.gamma(split.alpha))
      : pool.domains.map((_, d) => (d === index % pool.domains.length ? 1 - split.otherDomainShare : split.otherDomainShare / (pool.domains.length - 1)));
  const counts = apportion(size, weights);
  const shard = counts.flatMap((n, d) => draw(pool.byDomain[d]!, n, rng));
  return rng.shuffle(shard);
}

/** `n` examples of `from`: distinct while it has enough, then again from the start of a new draw. */
function draw<T>(from: readonly T[], n: number, rng: Random): T[] {
  if (from.length === 0 || n === 0) return [];
  const out: T[] = [];
  // A partial Fisher-Yates over the indices, its swaps kept sparse: O(n), whatever the pool's size.
  let swaps = new Map<number, number>();
  let k = 0;
  while (out.length < n) {
    if (k === from.length) {
      swaps = new Map();
      k = 0;
    }
    const j = k + rng.int(from.length - k);
    const picked = swaps.get(j) ?? j;
    swaps.set(j, swaps.get(k) ?? k);
    out.push(from[picked]!);
    k++;
  }
  return out;
}
