import { describe, expect, it } from 'vitest';
import { builtinTask } from '../../core/data/builtin-task.js';
import { apportion, domainHistogram, splitFederated } from '../../core/data/split.js';
import { Random } from '../../core/random.js';

const examples = (n: number, domains: string[]) => Array.from({ length: n }, (_, i) => ({ id: i, domain: domains[i % domains.length] as string }));
const ids = (xs: readonly { id: number }[]) => xs.map((x) => x.id);

function expectDisjoint(parts: readonly (readonly { id: number }[])[]) {
  const all = parts.flatMap(ids);
  expect(new Set(all).size).toBe(all.length);
}

describe('apportion', () => {
  it('splits by largest remainder, ties to the lower index', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(7, [0.5, 0.25, 0.25])).toEqual([3, 2, 2]);
    expect(apportion(9, [0.6, 0.3, 0.1])).toEqual([5, 3, 1]);
    expect(apportion(5, [0, 0])).toEqual([3, 2]);
    expect(apportion(0, [1, 2])).toEqual([0, 0]);
  });
});

describe('splitFederated: reference (iid)', () => {
  const data = examples(103, ['a', 'b', 'c']);

  it('cuts the seeded shuffle into K+1 equal parts, private shards first, public last', () => {
    const split = splitFederated(data, { seed: 9, clients: 4 });
    const shuffled = Random.stream(9, 'split/shuffle').shuffle(data);
    expect(split.private.map((p) => p.length)).toEqual([20, 20, 20, 20]);
    expect(split.public).toHaveLength(20);
    expect(split.unused).toBe(3);
    expect([...split.private.flat(), ...split.public]).toEqual(shuffled.slice(0, 100));
    expectDisjoint([...split.private, split.public]);
  });

  it('is deterministic given the seed', () => {
    expect(splitFederated(data, { seed: 1, clients: 2 })).toEqual(splitFederated(data, { seed: 1, clients: 2 }));
    expect(ids(splitFederated(data, { seed: 2, clients: 2 }).public)).not.toEqual(ids(splitFederated(data, { seed: 1, clients: 2 }).public));
  });

  it('honours explicit sizes and reports domain histograms', () => {
    const split = splitFederated(data, { seed: 3, clients: 2, sizes: { private: [10, 30], public: 50 } });
    expect(split.private.map((p) => p.length)).toEqual([10, 30]);
    expect(split.public).toHaveLength(50);
    expect(split.unused).toBe(13);
    expect(split.domains).toEqual(['a', 'b', 'c']);
    expect(split.histograms.private[0]).toEqual(domainHistogram(split.private[0]!, ['a', 'b', 'c']));
    const h = split.histograms.public;
    expect(Object.keys(h)).toEqual(['a', 'b', 'c']);
    expect(h.a! + h.b! + h.c!).toBe(50);
  });

  it('rejects impossible sizes with a clear message', () => {
    expect(() => splitFederated(data, { seed: 1, clients: 2, sizes: { private: [10], public: 5 } })).toThrow(/sizes.private has 1 entries for 2 clients/);
    expect(() => splitFederated(data, { seed: 1, clients: 1, sizes: { private: [100], public: 5 } })).toThrow(/add up to 105 but only 103/);
    expect(() => splitFederated(data, { seed: 1, clients: 1, sizes: { private: [-1], public: 5 } })).toThrow(
      /sizes.private\[0\] must be a non-negative integer/,
    );
    expect(() => splitFederated(examples(2, ['a']), { seed: 1, clients: 2 })).toThrow(/cannot be cut into 3/);
    expect(() => splitFederated(data, { seed: 1, clients: 0 })).toThrow(/clients must be a positive integer/);
  });
});

describe('splitFederated: non-IID by domain', () => {
  const task = builtinTask(1);

  // 288 examples, 48 per domain; public 72 leaves each client's two domains about 72, enough for 60.
  const sizes = { private: [60, 60, 60], public: 72 };

  it('gives each client only its own domains when ownShare is 1, keeping the reference public set', () => {
    const split = splitFederated(task.train, { seed: 5, clients: 3, sizes, strategy: { kind: 'domain', ownShare: 1 } });
    const reference = splitFederated(task.train, { seed: 5, clients: 3, sizes });
    expect(split.public).toEqual(reference.public);
    expect(split.ownDomains).toEqual([
      ['city', 'job'],
      ['colour', 'sound'],
      ['food', 'sport'],
    ]);
    split.private.forEach((shard, k) => {
      expect(shard).toHaveLength(60);
      for (const e of shard) expect(split.ownDomains![k]).toContain(e.domain);
    });
    expect(split.histograms.private[0]).toEqual({ city: 30, colour: 0, food: 0, job: 30, sound: 0, sport: 0 });
    expectDisjoint([...split.private, split.public].map((p) => p.map((e) => ({ id: task.train.indexOf(e) }))));
  });

  it('mixes in the configured share of other domains', () => {
    const split = splitFederated(task.train, { seed: 5, clients: 3, sizes, strategy: { kind: 'domain', ownShare: 0.75 } });
    split.private.forEach((shard, k) => {
      const own = shard.filter((e) => split.ownDomains![k]!.includes(e.domain)).length;
      expect(own).toBe(45);
      expect(new Set(shard.map((e) => e.domain)).size).toBe(6);
    });
  });

  it("fills a shortfall from the client's other own domains first, then from the rest", () => {
    // Client 0 owns a and c, client 1 owns b; domain a is small.
    const data = [...examples(90, ['b', 'c']), ...examples(10, ['a']).map((e) => ({ ...e, id: e.id + 90 }))];
    const split = splitFederated(data, { seed: 3, clients: 2, sizes: { private: [40, 40], public: 0 }, strategy: { kind: 'domain', ownShare: 1 } });
    expect(split.ownDomains).toEqual([['a', 'c'], ['b']]);
    expect(split.histograms.private[0]).toEqual({ a: 10, b: 0, c: 30 });
    expect(split.histograms.private[1]).toEqual({ a: 0, b: 40, c: 0 });
    // Now both of client 0's domains are too small: the rest comes from b.
    const tight = splitFederated(data, { seed: 3, clients: 2, sizes: { private: [70, 20], public: 0 }, strategy: { kind: 'domain', ownShare: 1 } });
    expect(tight.histograms.private[0]).toEqual({ a: 10, b: 15, c: 45 });
    expect(tight.private.map((p) => p.length)).toEqual([70, 20]);
    expectDisjoint([...tight.private, tight.public]);
  });

  it('lets several clients share a domain when there are fewer domains than clients', () => {
    const data = examples(120, ['a', 'b']);
    const split = splitFederated(data, { seed: 3, clients: 3, strategy: { kind: 'domain', ownShare: 1 } });
    expect(split.ownDomains).toEqual([['a'], ['b'], ['a']]);
    expectDisjoint([...split.private, split.public]);
  });
});

describe('splitFederated: Dirichlet over domains', () => {
  const data = examples(1400, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  const topShare = (h: Record<string, number>) => Math.max(...Object.values(h)) / Object.values(h).reduce((a, b) => a + b, 0);
  const meanTopShare = (alpha: number) => {
    const split = splitFederated(data, { seed: 4, clients: 6, strategy: { kind: 'dirichlet', alpha } });
    return split.histograms.private.reduce((a, h) => a + topShare(h), 0) / 6;
  };

  it('is deterministic, keeps sizes and draws mixtures that sum to one', () => {
    const options = { seed: 4, clients: 6, strategy: { kind: 'dirichlet', alpha: 0.5 } as const };
    const split = splitFederated(data, options);
    expect(split).toEqual(splitFederated(data, options));
    expect(split.private.map((p) => p.length)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const m of split.mixtures!) expect(m.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expectDisjoint([...split.private, split.public]);
  });

  it('concentrates shards for small alpha and spreads them for large alpha', () => {
    expect(meanTopShare(0.05)).toBeGreaterThan(0.6);
    expect(meanTopShare(1000)).toBeLessThan(0.2);
  });

  it('rejects a non-positive alpha', () => {
    expect(() => splitFederated(data, { seed: 1, clients: 2, strategy: { kind: 'dirichlet', alpha: 0 } })).toThrow(/alpha must be a positive number/);
  });
});
