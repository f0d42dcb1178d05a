/**
 * General text for pretraining the base models of the built-in task.
 *
 * It holds three kinds of lines, shuffled with the seed:
 * - filler facts: the world's spare entities (never in the task) with seeded values, each stated
 *   in every template of its domain. They teach the vocabulary, the templates, and that the
 *   templates of a domain are paraphrases of one relation, without giving away task facts;
 * - category lines ("Rome, Paris, Tokyo and Cairo are cities"), tying each value to its domain;
 * - known facts: a seeded `factFraction` of the task's facts (the same share in every domain),
 *   stated in their training templates only, never in their held-out evaluation phrasing.
 *
 * A model that absorbs more of this corpus answers more evaluation items zero-shot, so a larger
 * model pretrained on it starts ahead of a smaller one, as the paper's LLM knows more than its
 * SLMs. Pretraining the LLM with a higher `factFraction` than the SLMs states that premise
 * directly. Lines are exactly `prompt + answer`, the format the task trains on.
 */
import { Random } from '../random.js';
import { fillTemplate } from './builtin-vocabulary.js';
import { balancedValues, builtinWorld, domainSpec, type BuiltinFact, type BuiltinWorldOptions } from './builtin-world.js';

export interface BuiltinPretrainOptions extends BuiltinWorldOptions {
  /** Share of the task's facts the corpus states, in [0, 1]; rounded per domain. */
  factFraction: number;
  /** Spare entities per domain used as filler (default: all spare entities of the pool). */
  fillerEntitiesPerDomain?: number;
  /** Category lines per domain (default 4). */
  categoryLinesPerDomain?: number;
}

export interface BuiltinPretrainCorpus {
  texts: string[];
  /** Task facts the corpus states (in their training templates). */
  knownFacts: BuiltinFact[];
  /** Filler facts about entities outside the task; `evalTemplate` is -1 (all templates stated). */
  fillerFacts: BuiltinFact[];
}

export function builtinPretrainCorpus(seed: number, options: BuiltinPretrainOptions): BuiltinPretrainCorpus {
  const { factFraction } = options;
  if (!(factFraction >= 0 && factFraction <= 1)) {
    throw new Error(`builtin pretrain corpus: factFraction must be in [0, 1], got ${factFraction}`);
  }
  const categoryLines = options.categoryLinesPerDomain ?? 4;
  if (!Number.isInteger(categoryLines) || categoryLines < 0) {
    throw new Error(`builtin pretrain corpus: categoryLinesPerDomain must be a non-negative integer, got ${categoryLines}`);
  }
  const world = builtinWorld(seed, options);
  const texts: string[] = [];
  const knownFacts: BuiltinFact[] = [];
  const fillerFacts: BuiltinFact[] = [];

  for (const spec of world.domains) {
    const rng = Random.stream(seed, `builtin/pretrain/${spec.name}`);
    const spare = world.spareEntities[spec.name] ?? [];
    const fillerCount = options.fillerEntitiesPerDomain ?? spare.length;
    if (!Number.isInteger(fillerCount) || fillerCount < 0 || fillerCount > spare.length) {
      throw new Error(
        `builtin pretrain corpus: fillerEntitiesPerDomain must be an integer in [0, ${spare.length}] ` + `(pool minus entitiesPerDomain), got ${fillerCount}`,
      );
    }
    const values = world.values[spec.name] as string[];
    const fillerValues = balancedValues(values, fillerCount, rng);
    spare.slice(0, fillerCount).forEach((entity, i) => {
      const fact: BuiltinFact = { domain: spec.name, entity, value: fillerValues[i] as string, evalTemplate: -1 };
      fillerFacts.push(fact);
      for (const template of spec.templates) texts.push(`${fillTemplate(template, entity)} ${fact.value}`);
    });

    for (let i = 0; i < categoryLines; i++) {
      const listed = rng.shuffle(values);
      const last = listed.pop() as string;
      const line = `${listed.join(', ')} and ${last} are ${spec.category}`;
      texts.push(line.charAt(0).toUpperCase() + line.slice(1));
    }

    const domainFacts = world.facts.filter((f) => f.domain === spec.name);
    const known = rng.shuffle(domainFacts).slice(0, Math.round(factFraction * domainFacts.length));
    for (const fact of known) {
      knownFacts.push(fact);
      domainSpec(world, fact.domain).templates.forEach((template, t) => {
        if (t !== fact.evalTemplate) texts.push(`${fillTemplate(template, fact.entity)} ${fact.value}`);
      });
    }
  }
  return { texts: Random.stream(seed, 'builtin/pretrain/order').shuffle(texts), knownFacts, fillerFacts };
}
