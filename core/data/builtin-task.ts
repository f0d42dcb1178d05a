/**
 * The built-in task: needs no download, is learnable by tiny LMs in minutes of CPU, and has
 * domains so that client-specific knowledge exists.
 *
 * Every fact of the seeded world (builtin-world.ts) is stated in each of its domain's four
 * templates. One template per fact (balanced over templates and values) is held out: that phrasing is the
 * evaluation item, the other three are training examples. So every evaluation item asks a fact
 * the federation's training data states (in other words), in a template the training data uses
 * (for other facts), and no evaluation prompt is ever a training prompt. Items are multiple
 * choice among the domain's values (by default all four; answer vocabularies of domains are disjoint).
 *
 * Under a non-IID split by domain, client k's private shard holds the facts of its own domains;
 * the others can learn them only through the protocol's public-set distillation.
 */
import { Random } from '../random.js';
import { fillTemplate } from './builtin-vocabulary.js';
import { builtinWorld, domainSpec, type BuiltinFact, type BuiltinWorld, type BuiltinWorldOptions } from './builtin-world.js';
import type { ChoiceExample, DomainChoiceItem, MultipleChoiceTask } from './task.js';

export { builtinPretrainCorpus } from './builtin-pretrain.js';

export interface BuiltinTaskOptions extends BuiltinWorldOptions {
  /** Choices per item: the gold value plus distractors from the domain's values (default and most: valuesPerDomain). */
  choices?: number;
}

export interface BuiltinTask extends MultipleChoiceTask {
  world: BuiltinWorld;
}

const BUILTIN_TASK_NAME = 'builtin';

/** The statement of `fact` in template `template`, as a prompt/answer pair. */
function statement(world: BuiltinWorld, fact: BuiltinFact, template: number): { prompt: string; answer: string } {
  const spec = domainSpec(world, fact.domain);
  const text = spec.templates[template];
  if (text === undefined) throw new Error(`builtin task: domain "${fact.domain}" has no template ${template}`);
  return { prompt: fillTemplate(text, fact.entity), answer: ` ${fact.value}` };
}

export function builtinTask(seed: number, options: BuiltinTaskOptions = {}): BuiltinTask {
  const world = builtinWorld(seed, options);
  const maxChoices = Math.min(...Object.values(world.values).map((v) => v.length));
  const choiceCount = options.choices ?? maxChoices;
  if (!Number.isInteger(choiceCount) || choiceCount < 2 || choiceCount > maxChoices) {
    throw new Error(`builtin task: choices must be an integer in [2, ${maxChoices}], got ${choiceCount}`);
  }
  const rng = Random.stream(seed, 'builtin/choices');
  const train: ChoiceExample[] = [];
  const test: DomainChoiceItem[] = [];
  for (const fact of world.facts) {
    const spec = domainSpec(world, fact.domain);
    const values = world.values[fact.domain] as string[];
    for (let t = 0; t < spec.templates.length; t++) {
      const { prompt, answer } = statement(world, fact, t);
      const distractors = rng.shuffle(values.filter((v) => v !== fact.value)).slice(0, choiceCount - 1);
      const choices = rng.shuffle([fact.value, ...distractors]).map((v) => ` ${v}`);
      const label = choices.indexOf(answer);
      if (t === fact.evalTemplate) test.push({ prompt, choices, label, domain: fact.domain });
      else train.push({ prompt, answer, choices, label, domain: fact.domain });
    }
  }
  return { kind: 'multiple-choice', name: BUILTIN_TASK_NAME, train, test, world };
}
