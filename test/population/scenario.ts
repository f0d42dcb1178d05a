/** A small protocol-only population scenario, as YAML text, for the population, live view and sweep tests. */

/** `lateWithinRounds`: late uploads count toward the next rounds within it (0: ignored). */
export const head = (seed: number, rounds = 3, lateWithinRounds = 0) => `name: pop
seed: ${seed}
rounds: ${rounds}
task: { name: builtin, privateSamplesPerClient: 4, publicSamples: 4, testSamples: 8 }
protocol:
  topK: 4
  awaitSLMLogits: { deadlineMs: 60000, quorum: 0.5${lateWithinRounds > 0 ? `, lateMessages: { acceptWithinRounds: ${lateWithinRounds} }` : ''} }
  awaitLLMLogits: { deadlineMs: 60000 }
  serverSilenceMs: 600000
server: { model: null, tokenizer: gpt2, profile: { msPerTrainSample: 1, bandwidthMbps: 1000, latencyMs: 5 } }
`;

export const profile = '{ msPerTrainSample: 30, bandwidthMbps: 50, latencyMs: 10 }';

/** `count` clients of two templates (0.6: gpt2, heavy-tailed speeds; 0.4: llama2), Dirichlet data; `extra` lines go under `population:`. */
export function population(seed: number, count: number, selection: string, extra = '', rounds = 3, lateWithinRounds = 0): string {
  return `${head(seed, rounds, lateWithinRounds)}population:
  count: ${count}
  clients:
    - { weight: 0.6, model: null, tokenizer: gpt2, profile: { msPerTrainSample: { lognormal: { median: 40, sigma: 0.8 } }, bandwidthMbps: { lognormal: { median: 20, sigma: 1 } } } }
    - { weight: 0.4, model: null, tokenizer: llama2 }
  data: { split: dirichlet, alpha: 0.3 }
${extra}
selection: ${selection}
`;
}
