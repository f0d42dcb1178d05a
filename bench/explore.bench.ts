/**
 * Exploration speed on scenarios/explore-small.yaml (protocol-only model, 3 clients, 2 rounds):
 * seeded random schedules with up to 2 added faults, in worker threads (one per core) and in
 * one thread (the baseline); and exhaustive search with state hashing on the same scenario cut to
 * 2 clients (up to 1 added fault, to exhaustion). Goal: at least 200 schedules per second on 2
 * cores (P's checker shows about 72 per second on its tutorial example).
 *
 *   npm run bench -- explore
 */
import { availableParallelism } from 'node:os';
import { stringify } from 'yaml';
import { loadScenario } from '../core/scenario/load.js';
import { explore, type ExploreResult } from '../explore/explore.js';
import { threadPool } from '../explore/thread-pool.js';
import { exploreTarget } from '../explore/target.js';
import type { Benchmark, Figure } from './harness.js';

const FILE = 'scenarios/explore-small.yaml';

function scenarioSize(result: ExploreResult, clients: number, rounds: number) {
  return { scenario: FILE, clients, rounds, model: 'null', maxFaults: result.settings.maxFaults, choicePointsPerRun: result.settings.steps };
}

const benchmarks: Benchmark[] = [
  {
    name: 'explore-random',
    async run(): Promise<Figure[]> {
      let doc: Record<string, unknown> = {};
      const scenario = loadScenario(FILE, { onDocument: (d) => (doc = d) });
      const schedules = Number(process.env.FEDMKT_BENCH_SCHEDULES ?? 3000);
      const workers = availableParallelism();
      const target = await exploreTarget(scenario);
      const settings = { strategy: 'random' as const, maxFaults: 2, seed: 1 };
      const pool = threadPool(workers, { file: FILE, scenarioText: stringify(doc), kinds: null, properties: [] });
      try {
        // Warm-up of each thread (tokenizers, JIT), then the figure; then one thread, warmed up too.
        await explore(target, { ...settings, budget: { schedules: 200 * workers }, pool });
        const parallel = await explore(target, { ...settings, budget: { schedules }, pool });
        await explore(target, { ...settings, budget: { schedules: 200 } });
        const single = await explore(target, { ...settings, budget: { schedules: Math.round(schedules / 3) } });
        const rate = (r: ExploreResult) => r.schedules / (r.elapsedMs / 1000);
        const size = scenarioSize(parallel, scenario.clients.length, scenario.rounds);
        return [
          {
            name: 'explore.schedules_per_s',
            value: Number(rate(parallel).toFixed(1)),
            unit: 'schedules/s',
            baseline: Number(rate(single).toFixed(1)),
            ratio: Number((rate(parallel) / rate(single)).toFixed(2)),
            goal: '>= 200 on 2 cores',
            workers,
            schedules: parallel.schedules,
            meanAddedFaults: Number(parallel.meanFaults.toFixed(2)),
            failures: parallel.failures.length,
            ...size,
          },
        ];
      } finally {
        await pool.close();
      }
    },
  },
  {
    name: 'explore-exhaustive',
    async run(): Promise<Figure[]> {
      const full = loadScenario(FILE);
      const scenario = { ...full, name: 'explore-small-2', clients: full.clients.slice(0, 2) };
      const target = await exploreTarget(scenario);
      const result = await explore(target, { strategy: 'exhaustive', budget: { ms: 600_000 }, maxFaults: 1, seed: 0 });
      const e = result.exhaustive!;
      return [
        {
          name: 'explore.exhaustive_states_per_s',
          value: Number((e.states / (result.elapsedMs / 1000)).toFixed(1)),
          unit: 'states/s',
          states: e.states,
          schedules: e.schedules,
          pruned: e.pruned,
          exhausted: e.exhausted,
          seconds: Number((result.elapsedMs / 1000).toFixed(1)),
          schedulesPerSecond: Number((e.schedules / (result.elapsedMs / 1000)).toFixed(1)),
          failures: result.failures.length,
          ...scenarioSize(result, 2, scenario.rounds),
        },
      ];
    },
  },
];

export default benchmarks;
