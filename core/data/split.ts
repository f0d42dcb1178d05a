/**
 * Splitting a task's training set across the federation: K private shards and one public set.
 *
 * Reference (FedMKT default): shuffle with the seed, cut into K+1 equal parts; parts 0..K-1 are
 * the clients' private shards, part K the public set. The non-IID strategies keep that public
 * set (same seed, same sizes: same public set) and only redistribute the remaining examples
 * among clients by `domain`. Everything is deterministic given the seed.
 */
import { Random } from '../random.js';

export type SplitStrategy =
  | { kind: 'iid' }
  /** Client k owns domains k, k+K, k+2K, ... (sorted order); `ownShare` of its shard comes from them. */
  | { kind: 'domain'; ownShare: number }
  /** Each client's shard mixes domains in proportions drawn from Dirichlet(alpha, ..., alpha). */
  | { kind: 'dirichlet'; alpha: number };

interface SplitSizes {
  /** One size per client. */
  private: number[];
  public: number;
}

export interface SplitOptions {
  seed: number;
  clients: number;
  /** Default: K+1 equal parts of floor(n / (K+1)); the remainder stays unused. */
  sizes?: SplitSizes;
  /** Default: iid (the reference split). */
  strategy?: SplitStrategy;
}

/** Examples per domain, every domain of the task listed (zeros included), in sorted order. */
export type DomainHistogram = Record<string, number>;

export interface FederatedSplit<T> {
  private: T[][];
  public: T[];
  /** Examples in no shard. */
  unused: number;
  /** All domains of the input, sorted: the key order of every histogram. */
  domains: string[];
  histograms: { private: DomainHistogram[]; public: DomainHistogram };
  /** `domain` strategy: the domains each client owns. */
  ownDomains?: string[][];
  /** `dirichlet` strategy: each client's drawn mixture, indexed like `domains`. */
  mixtures?: number[][];
}

export function domainHistogram(examples: readonly { domain: string }[], domains: readonly string[]): DomainHistogram {
  const histogram: DomainHistogram = {};
  for (const d of domains) histogram[d] = 0;
  for (const e of examples) histogram[e.domain] = (histogram[e.domain] ?? 0) + 1;
  return histogram;
}

/**
 * Splits `total` into integer parts proportional to `weights` (largest remainder; ties go to
 * the lower index). All-zero weights split evenly.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const w = sum > 0 ? weights : weights.map(() => 1);
  const wSum = sum > 0 ? sum : weights.length;
  const exact = w.map((x) => (total * x) / wSum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    parts[i] = (parts[i] as number) + 1;
    left--;
  }
  return parts;
}

/** Whether `a` sorts after `b`, comparing element by element. */
function lexGreater(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  }
  return false;
}

function resolveSizes(n: number, options: SplitOptions): SplitSizes {
  const { clients } = options;
  // No private shard at all is a population's split: the public set, its clients' shards drawn later.
  if (!Number.isInteger(clients) || clients < (options.sizes ? 0 : 1)) throw new Error(`split: clients must be a positive integer, got ${clients}`);
  if (!options.sizes) {
    const part = Math.floor(n / (clients + 1));
    if (part === 0) throw new Error(`split: ${n} examples cannot be cut into ${clients + 1} non-empty equal parts`);
    return { private: Array.from({ length: clients }, () => part), public: part };
  }
  const { sizes } = options;
  if (sizes.private.length !== clients) {
    throw new Error(`split: sizes.private has ${sizes.private.length} entries for ${clients} clients`);
  }
  for (const [i, s] of [...sizes.private, sizes.public].entries()) {
    if (!Number.isInteger(s) || s < 0) {
      const field = i < clients ? `sizes.private[${i}]` : 'sizes.public';
      throw new Error(`split: ${field} must be a non-negative integer, got ${s}`);
    }
  }
  const total = sizes.private.reduce((a, b) => a + b, 0) + sizes.public;
  if (total > n) throw new Error(`split: sizes add up to ${total} but only ${n} examples exist`);
  return { private: sizes.private.slice(), public: sizes.public };
}

/** Per client, per domain: how many examples the strategy asks for. */
function desiredCounts<T>(
  strategy: SplitStrategy,
  sizes: SplitSizes,
  domains: readonly string[],
  seed: number,
  out: Pick<FederatedSplit<T>, 'ownDomains' | 'mixtures'>,
): number[][] {
  const K = sizes.private.length;
  const D = domains.length;
  if (strategy.kind === 'domain') {
    const { ownShare } = strategy;
    if (!(ownShare >= 0 && ownShare <= 1)) throw new Error(`split: domain strategy ownShare must be in [0, 1], got ${ownShare}`);
    const own = Array.from({ length: K }, (_, k) => (D >= K ? domains.map((_, d) => d).filter((d) => d % K === k) : [k % D]));
    out.ownDomains = own.map((ds) => ds.map((d) => domains[d] as string));
    return sizes.private.map((size, k) => {
      const mine = new Set(own[k]);
      const others = domains.map((_, d) => d).filter((d) => !mine.has(d));
      const ownCount = others.length === 0 ? size : Math.round(size * ownShare);
      const ownParts = apportion(
        ownCount,
        [...mine].map(() => 1),
      );
      const otherParts = apportion(
        size - ownCount,
        others.map(() => 1),
      );
      const row = new Array<number>(D).fill(0);
      [...mine].forEach((d, i) => (row[d] = ownParts[i] as number));
      others.forEach((d, i) => (row[d] = otherParts[i] as number));
      return row;
    });
  }
  if (strategy.kind === 'dirichlet') {
    const { alpha } = strategy;
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`split: dirichlet alpha must be a positive number, got ${alpha}`);
    const rng = Random.stream(seed, 'split/dirichlet');
    const mixtures = sizes.private.map(() => {
      const g = domains.map(() => rng.gamma(alpha));
      const sum = g.reduce((a, b) => a + b, 0);
      // Tiny alphas can underflow every draw to 0: the limit of Dirichlet(alpha -> 0) is one domain.
      if (sum === 0) {
        const pick = rng.int(D);
        return domains.map((_, d) => (d === pick ? 1 : 0));
      }
      return g.map((x) => x / sum);
    });
    out.mixtures = mixtures;
    return sizes.private.map((size, k) => apportion(size, mixtures[k] as number[]));
  }
  throw new Error(`split: unknown strategy ${JSON.stringify(strategy)}`);
}

export function splitFederated<T extends { domain: string }>(examples: readonly T[], options: SplitOptions): FederatedSplit<T> {
  const sizes = resolveSizes(examples.length, options);
  const strategy = options.strategy ?? { kind: 'iid' };
  const shuffled = Random.stream(options.seed, 'split/shuffle').shuffle(examples);
  const domains = [...new Set(examples.map((e) => e.domain))].sort();
  const privateTotal = sizes.private.reduce((a, b) => a + b, 0);
  // The public set is the same slice of the shuffle under every strategy.
  const publicSet = shuffled.slice(privateTotal, privateTotal + sizes.public);
  const result: FederatedSplit<T> = {
    private: [],
    public: publicSet,
    unused: examples.length - privateTotal - sizes.public,
    domains,
    histograms: { private: [], public: domainHistogram(publicSet, domains) },
  };

  if (strategy.kind === 'iid') {
    let offset = 0;
    result.private = sizes.private.map((s) => shuffled.slice(offset, (offset += s)));
  } else {
    const want = desiredCounts(strategy, sizes, domains, options.seed, result);
    const rest = [...shuffled.slice(0, privateTotal), ...shuffled.slice(privateTotal + sizes.public)];
    const pools = domains.map((d) => rest.filter((e) => e.domain === d));
    const shards: T[][] = sizes.private.map(() => []);
    const got = want.map((row) => row.map(() => 0));
    domains.forEach((_, d) => {
      const pool = pools[d] as T[];
      const asked = want.map((row) => row[d] as number);
      const askedTotal = asked.reduce((a, b) => a + b, 0);
      const granted = askedTotal <= pool.length ? asked : apportion(pool.length, asked);
      granted.forEach((g, k) => {
        (shards[k] as T[]).push(...pool.splice(0, g));
        (got[k] as number[])[d] = g;
      });
    });
    // A domain that ran out leaves shortfalls. Clients fill them one example at a time, in turn,
    // from the domain where they still lack most, else the one they want most, else the fullest.
    for (let progress = true; progress; ) {
      progress = false;
      shards.forEach((shard, k) => {
        if (shard.length >= (sizes.private[k] as number)) return;
        const wantK = want[k] as number[];
        const gotK = got[k] as number[];
        let best = -1;
        let bestKey: number[] = [];
        pools.forEach((pool, d) => {
          if (pool.length === 0) return;
          const key = [Math.max(0, (wantK[d] as number) - (gotK[d] as number)), wantK[d] as number, pool.length];
          if (best < 0 || lexGreater(key, bestKey)) {
            best = d;
            bestKey = key;
          }
        });
        if (best < 0) return;
        shard.push((pools[best] as T[]).shift() as T);
        gotK[best] = (gotK[best] as number) + 1;
        progress = true;
      });
    }
    // Drawn domain by domain above; shuffle so a shard is not ordered by domain.
    result.private = shards.map((shard, k) => Random.stream(options.seed, `split/shard/${k}`).shuffle(shard));
  }
  result.histograms.private = result.private.map((shard) => domainHistogram(shard, domains));
  return result;
}
