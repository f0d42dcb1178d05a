import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diurnalAvailability, traceAvailability, type Availability } from '../../core/population/availability.js';
import { Selector, type SelectionStrategy } from '../../core/population/selection.js';
import { shardOf, shardPool } from '../../core/population/shards.js';
import { exportFedScaleAvailability, exportFedScaleCapacity, readAvailabilityTrace, readCapacityTrace } from '../../core/population/traces.js';
import { Random } from '../../core/random.js';

/** A FedScale-shaped trace: ids as FedScale writes them, intervals in seconds, cyclic over finish_time. */
function fedScaleTrace(devices: number, seed: number): Record<string, { duration: number; inactive: number[]; finish_time: number; active: number[] }> {
  const rng = new Random(seed);
  const out: Record<string, { duration: number; inactive: number[]; finish_time: number; active: number[] }> = {};
  for (let d = 0; d < devices; d++) {
    const active: number[] = [];
    const inactive: number[] = [];
    let t = Math.floor(rng.next() * 3000);
    while (t < 80_000) {
      const on = t;
      t += 1 + Math.floor(rng.next() * 5000);
      active.push(on);
      inactive.push(t);
      t += 1 + Math.floor(rng.next() * 9000);
    }
    out[String(d * 7 + 1)] = { duration: 86_400, inactive, finish_time: 86_400, active };
  }
  return out;
}

describe('device traces', () => {
  it('a FedScale-format availability file round-trips through the importer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-trace-'));
    for (const seed of [1, 2, 3]) {
      const doc = fedScaleTrace(50, seed);
      const file = join(dir, `behave-${seed}.json`);
      writeFileSync(file, JSON.stringify(doc));
      const table = readAvailabilityTrace(file);
      expect(table.ids.length).toBe(50);
      expect(exportFedScaleAvailability(table)).toEqual(doc);
    }
  });

  it('a FedScale-format capacity file round-trips; CSV reads the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-trace-'));
    const doc = { '1': { computation: 162.0, communication: 5648.109619499134 }, '2': { computation: 31.5, communication: 120.25 } };
    writeFileSync(join(dir, 'cap.json'), JSON.stringify(doc));
    expect(exportFedScaleCapacity(readCapacityTrace(join(dir, 'cap.json')))).toEqual(doc);
    writeFileSync(join(dir, 'cap.csv'), 'client,computation,communication\n1,162,5648.109619499134\n2,31.5,120.25\n');
    expect(exportFedScaleCapacity(readCapacityTrace(join(dir, 'cap.csv')))).toEqual(doc);
  });

  it('replays a trace as FedScale does: online within [active, inactive], cyclic over finish_time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-trace-'));
    writeFileSync(join(dir, 'a.csv'), 'client,active,inactive,finish_time\n9,10,20,100\n9,50,60,100\n');
    const a = traceAvailability(readAvailabilityTrace(join(dir, 'a.csv')));
    expect(a.onlineUntil(0, 5_000)).toBeNull();
    expect(a.onlineUntil(0, 15_000)).toBe(20_000);
    expect(a.onlineUntil(0, 155_000)).toBe(160_000);
    expect(a.onlineUntil(0, 165_000)).toBeNull();
  });

  it('the diurnal generator gives about the asked online share, heavy-tailed sessions, the same plan from the same seed', () => {
    const day = 86_400_000;
    const model = diurnalAvailability(7, { periodMs: day, onlineFraction: 0.4, sessionMs: 3_600_000 });
    let online = 0;
    const samples = 20_000;
    const rng = new Random(3);
    for (let s = 0; s < samples; s++) if (model.onlineUntil(rng.int(5000), rng.next() * 3 * day) !== null) online++;
    expect(online / samples).toBeGreaterThan(0.25);
    expect(online / samples).toBeLessThan(0.55);
    expect(diurnalAvailability(7, { periodMs: day, onlineFraction: 0.4, sessionMs: 3_600_000 }).onlineUntil(12, 5e6)).toBe(model.onlineUntil(12, 5e6));
  });
});

const always: Availability = { alwaysOn: true, onlineUntil: () => Number.POSITIVE_INFINITY };
const evenOnly: Availability = { alwaysOn: false, onlineUntil: (i, t) => (i % 2 === 0 ? t + 1000 * (i % 97) : null) };

describe('selection', () => {
  const strategies: SelectionStrategy[] = ['random', 'round-robin', 'availability-aware'];
  for (const seed of [0, 1, 2, 17, 123456]) {
    it(`announces ceil(perRound x overcommit) distinct online clients, deterministic (seed ${seed})`, () => {
      for (const strategy of strategies) {
        for (const [count, perRound, overcommit] of [
          [10_000, 100, 1.3],
          [50, 10, 2],
          [1000, 1000, 1.3],
        ] as const) {
          const announced = Math.min(count, Math.ceil(perRound * overcommit));
          const request = { seed, round: 3, now: 0, count, announced, strategy, availability: always };
          const a = new Selector().select(request).selected;
          expect(a.length).toBe(announced);
          expect(new Set(a).size).toBe(announced);
          expect(a.every((i) => i >= 0 && i < count)).toBe(true);
          expect(new Selector().select(request).selected).toEqual(a);
        }
        const halfOnline = new Selector().select({ seed, round: 1, now: 0, count: 1000, announced: 130, strategy, availability: evenOnly });
        expect(halfOnline.selected.length).toBe(130);
        expect(halfOnline.selected.every((i) => i % 2 === 0)).toBe(true);
        // Fewer online than asked: every online client.
        const few = new Selector().select({ seed, round: 1, now: 0, count: 100, announced: 80, strategy, availability: evenOnly });
        expect(few.selected.length).toBe(50);
      }
    });
  }

  it('rounds differ under random; round-robin walks the population; availability-aware prefers those online longest', () => {
    const req = (round: number, strategy: SelectionStrategy) => ({ seed: 5, round, now: 0, count: 10_000, announced: 50, strategy, availability: evenOnly });
    const s = new Selector();
    expect(s.select(req(1, 'random')).selected).not.toEqual(s.select(req(2, 'random')).selected);
    const rr = new Selector();
    expect(rr.select(req(1, 'round-robin')).selected).toEqual(Array.from({ length: 50 }, (_, k) => 2 * k));
    expect(rr.select(req(2, 'round-robin')).selected[0]).toBe(100);
    const aware = new Selector().select(req(1, 'availability-aware')).selected;
    const random = new Selector().select(req(1, 'random')).selected;
    const stay = (ids: number[]) => ids.reduce((a, i) => a + (i % 97), 0) / ids.length;
    expect(stay(aware)).toBeGreaterThan(stay(random));
  });
});

describe('lazy shards', () => {
  const examples = Array.from({ length: 600 }, (_, i) => ({ id: i, domain: `d${i % 6}` }));
  const pool = shardPool(examples);
  it('are drawn from the seed alone, distinct within a shard while the pool allows, non-IID under dirichlet', () => {
    for (const seed of [0, 1, 9]) {
      const a = shardOf(pool, seed, 12345, 64, { split: 'iid' });
      expect(a).toEqual(shardOf(pool, seed, 12345, 64, { split: 'iid' }));
      expect(new Set(a.map((e) => e.id)).size).toBe(64);
      const big = shardOf(pool, seed, 99_999, 1000, { split: 'iid' });
      expect(big.length).toBe(1000);
      const d = shardOf(pool, seed, 7, 60, { split: 'dirichlet', alpha: 0.1 });
      const top = Math.max(...pool.domains.map((dom) => d.filter((e) => e.domain === dom).length));
      expect(top).toBeGreaterThan(25);
      const own = shardOf(pool, seed, 8, 50, { split: 'domain', otherDomainShare: 0.1 });
      expect(own.filter((e) => e.domain === 'd2').length).toBe(45);
    }
  });
});
