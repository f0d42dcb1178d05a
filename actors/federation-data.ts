/**
 * The data of one run: the task, the K private shards, the public set and the held-out
 * evaluation items, all fixed by the scenario seed.
 */
import { builtinTask } from '../core/data/builtin-task.js';
import { splitFederated, type SplitStrategy } from '../core/data/split.js';
import type { ChoiceItem, TextSample } from '../core/models/model.js';
import { Random } from '../core/random.js';
import type { Scenario } from '../core/scenario/schema.js';

export interface FederationData {
  privateSets: TextSample[][];
  publicSet: TextSample[];
  testSet: ChoiceItem[];
  /** Every text of the run: what a model's compact vocabulary must cover. */
  corpus: (TextSample | ChoiceItem)[];
  domains: string[];
}

export function federationData(scenario: Scenario): FederationData {
  const { task } = scenario;
  if (task.name !== 'builtin') throw new Error(`task.name: only "builtin" is available in this version, got "${task.name}"`);
  const built = builtinTask(scenario.seed);
  const strategy: SplitStrategy =
    task.split === 'iid'
      ? { kind: 'iid' }
      : task.split === 'domain'
        ? { kind: 'domain', ownShare: 1 - task.otherDomainShare }
        : { kind: 'dirichlet', alpha: task.dirichletAlpha };
  const k = scenario.clients.length;
  const needed = k * task.privateSamplesPerClient + task.publicSamples;
  if (needed > built.train.length)
    throw new Error(
      `task: ${k} clients x privateSamplesPerClient ${task.privateSamplesPerClient} + publicSamples ${task.publicSamples} = ${needed} samples, but the builtin task has ${built.train.length}`,
    );
  const split = splitFederated(built.train, {
    seed: scenario.seed,
    clients: k,
    sizes: { private: scenario.clients.map(() => task.privateSamplesPerClient), public: task.publicSamples },
    strategy,
  });
  const toSample = (e: TextSample): TextSample => ({ prompt: e.prompt, answer: e.answer });
  const privateSets = scenario.clients.map((c, i) => (split.private[c.shard ?? i] ?? []).map(toSample));
  const testSet = Random.stream(scenario.seed, 'test-subset')
    .shuffle(built.test)
    .slice(0, task.testSamples)
    .map((t) => ({ prompt: t.prompt, choices: t.choices, label: t.label }));
  const publicSet = split.public.map(toSample);
  return {
    privateSets,
    publicSet,
    testSet,
    corpus: [...built.train.map(toSample), ...testSet],
    domains: split.domains,
  };
}
