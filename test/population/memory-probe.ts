/**
 * Runs a protocol-only population (count and perRound from argv) and prints, as JSON, the heap
 * after a full GC with the run's results still held, and the peak RSS: the figures
 * memory.test.ts compares across population sizes. Run with `node --expose-gc --import tsx`.
 */
import { runFederation } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { parseScenario } from '../../core/scenario/load.js';

const [count, perRound, rounds] = process.argv.slice(2).map(Number) as [number, number, number];
const scenario = parseScenario(`name: memory
seed: 3
rounds: ${rounds}
task: { name: builtin, privateSamplesPerClient: 4, publicSamples: 4, testSamples: 8 }
protocol: { topK: 4, awaitSLMLogits: { deadlineMs: 60000, quorum: 0.5 }, awaitLLMLogits: { deadlineMs: 60000 }, serverSilenceMs: 600000 }
server: { model: null, tokenizer: gpt2, profile: { msPerTrainSample: 1, bandwidthMbps: 1000, latencyMs: 5 } }
population:
  count: ${count}
  clients: [{ model: null, tokenizer: gpt2, profile: { msPerTrainSample: { lognormal: { median: 40, sigma: 0.8 } } } }]
selection: { perRound: ${perRound}, overcommit: 1.3 }
`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
gc();
const before = process.memoryUsage().heapUsed;
const result = await runFederation(scenario, { learning: protocolOnlyLearningStack() });
gc();
const after = process.memoryUsage().heapUsed;
console.log(JSON.stringify({ count, heapGrowthBytes: after - before, events: result.recorder.events.length, violations: result.violations.length }));
