/** The asynchronous machines under `fedmkt explore`: no failure found at several explorer seeds, in both modes. */
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../core/scenario/load.js';
import { explore } from '../../explore/explore.js';
import { exploreTarget } from '../../explore/target.js';

describe('exploring buffered and asynchronous FedMKT (scenarios/explore-async.yaml)', () => {
  it.each([
    { mode: 'buffered' as const, seed: 1 },
    { mode: 'buffered' as const, seed: 2 },
    { mode: 'async' as const, seed: 3 },
    { mode: 'async' as const, seed: 4 },
  ])(
    '$mode, explorer seed $seed: every schedule keeps the invariants and ends',
    async ({ mode, seed }) => {
      const scenario = loadScenario('scenarios/explore-async.yaml');
      scenario.protocol.mode = mode;
      if (mode === 'async') delete scenario.protocol.bufferSize;
      const target = await exploreTarget(scenario);
      const result = await explore(target, { strategy: 'random', budget: { schedules: 40 }, maxFaults: 2, seed });
      expect(result.failures.map((f) => f.finding)).toEqual([]);
      expect(result.schedules).toBe(40);
    },
    120_000,
  );
});
