/**
 * Where a quickstart round's wall time goes: model compute (the sum of the work steps'
 * wall seconds in timings.jsonl, which the compute queue keeps exclusive) against the whole
 * time the actors ran. Everything else is protocol overhead: machines, codec, transport,
 * alignment bookkeeping, recording. Goal: overhead under 5%.
 */
import { defaultLearningStack } from '../actors/default-learning.js';
import { runFederation } from '../actors/federation.js';
import { runOverNats } from '../actors/nats-deployment.js';
import { loadScenario } from '../core/scenario/load.js';
import type { Benchmark } from './harness.js';

const MODEL_STATES = new Set(['trainPrivate', 'computePublicLogits', 'distillFromLLM', 'distillFromSLMs', 'computeLLMLogits', 'evaluate']);

const benchmarks: Benchmark[] = [
  {
    name: 'federation-overhead',
    async run() {
      const scenario = loadScenario('scenarios/quickstart.yaml');
      // In the main thread, so that model steps run one at a time and their wall times add up.
      const learning = await defaultLearningStack({ workers: 0 });
      const result = await runFederation(scenario, { learning });
      const timings = result.recorder.timings;
      const compute = timings.filter((t) => MODEL_STATES.has(t.state)).reduce((s, t) => s + t.wallSeconds, 0);
      const align = timings.filter((t) => t.state.startsWith('align')).reduce((s, t) => s + t.wallSeconds, 0);
      const total = result.roundsWallSeconds;
      const overhead = Math.max(0, total - compute - align);
      return [
        { name: 'quickstart.rounds_wall', value: total, unit: 's', rounds: scenario.rounds },
        { name: 'quickstart.model_compute_wall', value: compute, unit: 's' },
        { name: 'quickstart.alignment_wall', value: align, unit: 's' },
        {
          name: 'quickstart.overhead_share',
          value: overhead / total,
          unit: 'fraction of round wall time outside model compute and alignment',
          baseline: total,
          ratio: overhead / total,
          goal: '< 0.05',
        },
      ];
    },
  },
  {
    name: 'federation-memory',
    async run() {
      // As `fedmkt run` runs it: models in 2 worker threads. Peak resident memory of the whole
      // process (worker threads included), sampled through the run; and the speed-up over one thread.
      const scenario = loadScenario('scenarios/quickstart.yaml');
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
      const pooled = await runFederation(scenario, { learning: await defaultLearningStack({ workers: 2 }) });
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const single = await runFederation(scenario, { learning: await defaultLearningStack({ workers: 0 }) });
      return [
        { name: 'quickstart.peak_rss', value: peakRss / 2 ** 20, unit: 'MiB', goal: '< 4096' },
        {
          name: 'quickstart.rounds_wall_2_workers',
          value: pooled.roundsWallSeconds,
          unit: 's',
          baseline: single.roundsWallSeconds,
          ratio: pooled.roundsWallSeconds / single.roundsWallSeconds,
        },
      ];
    },
  },
  {
    name: 'federation-nats-vs-memory',
    async run() {
      // The same small scenario, all actors in one process: in-memory transport (virtual clock)
      // against one local nats-server (wall clock). Rounds' wall time, setup excluded.
      const scenario = loadScenario('scenarios/nats-small.yaml');
      await runFederation(scenario, { learning: await defaultLearningStack() }); // warm-up: JIT, tokenizer, kernels
      const memory = await runFederation(scenario, { learning: await defaultLearningStack() });
      const nats = await runOverNats(scenario, { spawn: true, learning: await defaultLearningStack() });
      const perRound = (r: { roundsWallSeconds: number }) => r.roundsWallSeconds / scenario.rounds;
      return [
        {
          name: 'nats-small.round_wall_nats',
          value: perRound(nats),
          unit: 's/round',
          baseline: perRound(memory),
          ratio: perRound(nats) / perRound(memory),
          goal: 'ratio <= 1.25',
        },
      ];
    },
  },
];

export default benchmarks;
