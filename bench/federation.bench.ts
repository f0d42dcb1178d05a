/**
 * Where a quickstart round's wall time goes: model compute (the sum of the work steps'
 * wall seconds in timings.jsonl, which the compute queue keeps exclusive) against the whole
 * time the actors ran. Everything else is protocol overhead: machines, codec, transport,
 * alignment bookkeeping, recording. Goal: overhead under 5%.
 */
import { defaultLearningStack } from '../actors/default-learning.js';
import { runFederation } from '../actors/federation.js';
import { loadScenario } from '../core/scenario/load.js';
import type { Benchmark } from './harness.js';

const MODEL_STATES = new Set(['trainPrivate', 'computePublicLogits', 'distillFromLLM', 'distillFromSLMs', 'computeLLMLogits', 'evaluate']);

const benchmarks: Benchmark[] = [
  {
    name: 'federation-overhead',
    async run() {
      const scenario = loadScenario('scenarios/quickstart.yaml');
      const learning = await defaultLearningStack();
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
];

export default benchmarks;
