/**
 * One run of scenarios/population.yaml in its own process, for population.bench.ts: the
 * population size and rounds from argv; prints one JSON line with the wall seconds, the events
 * recorded, the process's peak resident memory and the invariant violations.
 *   node --import tsx bench/population-run.ts 100000 50
 */
import { runFederation } from '../actors/federation.js';
import { protocolOnlyLearningStack } from '../actors/protocol-only-learning.js';
import { loadScenario } from '../core/scenario/load.js';

const [count, rounds] = process.argv.slice(2).map(Number) as [number, number];
const scenario = loadScenario('scenarios/population.yaml', {
  overrides: [
    { path: 'population.count', value: count },
    { path: 'rounds', value: rounds },
  ],
});
const gc = (globalThis as { gc?: () => void }).gc;
function heapAfterGc(collect: () => void): number {
  collect();
  return process.memoryUsage().heapUsed / 2 ** 20;
}
const result = await runFederation(scenario, { learning: protocolOnlyLearningStack() });
console.log(
  JSON.stringify({
    count,
    rounds,
    roundsWallSeconds: result.roundsWallSeconds,
    wallSeconds: result.wallSeconds,
    events: result.recorder.events.length,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    // With --expose-gc: what the finished run still holds (its trace included).
    ...(gc ? { heapAfterGcMiB: heapAfterGc(gc) } : {}),
    violations: result.violations.length,
    finalStates: result.finalStates,
  }),
);
