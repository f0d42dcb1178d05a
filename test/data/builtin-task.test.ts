import { describe, expect, it } from 'vitest';
import { builtinPretrainCorpus, builtinTask } from '../../core/data/builtin-task.js';
import { BUILTIN_DOMAINS } from '../../core/data/builtin-vocabulary.js';
import { splitFederated } from '../../core/data/split.js';
import type { ChoiceExample, DomainChoiceItem } from '../../core/data/task.js';

const words = (text: string) =>
  text
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);

/**
 * A memorising learner: for each prompt word, the answers it was seen with. It predicts from
 * the prompt word whose answer is most certain (entities are; template words are not), and
 * picks choice 0 when no word it knows points into the choices. It shows what knowledge the
 * data holds, independent of any neural model.
 */
function lookupAccuracy(train: readonly ChoiceExample[], test: readonly DomainChoiceItem[]): number {
  const seen = new Map<string, Map<string, number>>();
  for (const e of train) {
    for (const w of words(e.prompt)) {
      const counts = seen.get(w) ?? new Map<string, number>();
      counts.set(e.answer, (counts.get(e.answer) ?? 0) + 1);
      seen.set(w, counts);
    }
  }
  let hits = 0;
  for (const item of test) {
    let best: { share: number; answer: string } | undefined;
    for (const w of words(item.prompt)) {
      const counts = seen.get(w);
      if (!counts) continue;
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      for (const [answer, n] of counts) {
        if (item.choices.includes(answer) && (!best || n / total > best.share)) best = { share: n / total, answer };
      }
    }
    const pred = best && best.share === 1 ? item.choices.indexOf(best.answer) : 0;
    if (pred === item.label) hits++;
  }
  return hits / test.length;
}

/** The template and (one-word) entity of a builtin prompt. */
const parse = (prompt: string, domain: string): { template: number; entity: string } => {
  const spec = BUILTIN_DOMAINS.find((d) => d.name === domain)!;
  const matches = spec.templates.flatMap((template, t) => {
    const [before, after] = template.split('{e}') as [string, string];
    const entity = prompt.slice(before.length, prompt.length - after.length);
    return prompt.startsWith(before) && prompt.endsWith(after) && /^[A-Za-z]+$/.test(entity) ? [{ template: t, entity }] : [];
  });
  if (matches.length !== 1) throw new Error(`${matches.length} templates of ${domain} match ${prompt}`);
  return matches[0]!;
};
const entityOf = (prompt: string, domain: string): string => parse(prompt, domain).entity;

describe('builtin vocabulary', () => {
  it('keeps entity pools and value sets pairwise disjoint', () => {
    const owner = new Map<string, string>();
    for (const d of BUILTIN_DOMAINS) {
      for (const [kind, list] of [
        ['entity', d.entities],
        ['value', d.values],
      ] as const) {
        for (const w of list) {
          const key = w.toLowerCase();
          expect(owner.get(key), `${w} is both ${owner.get(key)} and ${d.name}/${kind}`).toBeUndefined();
          owner.set(key, `${d.name}/${kind}`);
        }
      }
      expect(new Set(d.entities).size).toBe(d.entities.length);
      expect(d.values.length).toBeGreaterThanOrEqual(4);
      for (const t of d.templates) expect(t.split('{e}').length).toBe(2);
    }
  });
});

describe('builtinTask', () => {
  it('is deterministic given the seed and differs across seeds', () => {
    expect(builtinTask(7)).toEqual(builtinTask(7));
    expect(builtinTask(8).train).not.toEqual(builtinTask(7).train);
  });

  it('states each fact in every template, holding one phrasing out for evaluation', () => {
    const task = builtinTask(3);
    expect(task.kind).toBe('multiple-choice');
    expect(task.train).toHaveLength(6 * 16 * 3);
    expect(task.test).toHaveLength(6 * 16);
    const trainPrompts = new Set(task.train.map((e) => e.prompt));
    for (const item of task.test) {
      expect(trainPrompts.has(item.prompt)).toBe(false);
      const entity = entityOf(item.prompt, item.domain);
      const gold = item.choices[item.label];
      const stated = task.train.filter((e) => e.domain === item.domain && entityOf(e.prompt, e.domain) === entity);
      expect(stated).toHaveLength(3);
      for (const e of stated) expect(e.answer).toBe(gold);
    }
  });

  it('uses every template in training and balances held-out templates and gold values', () => {
    const task = builtinTask(5);
    for (const spec of BUILTIN_DOMAINS) {
      const train = task.train.filter((e) => e.domain === spec.name);
      expect(new Set(train.map((e) => parse(e.prompt, spec.name).template)).size).toBe(spec.templates.length);
      // 16 facts = 4 values x 4 templates: every (value, held-out template) cell holds one fact ...
      const cells = task.world.facts.filter((f) => f.domain === spec.name).map((f) => `${f.value}/${f.evalTemplate}`);
      expect(new Set(cells).size).toBe(16);
      // ... so within each template, training states every value equally often (3 times):
      // knowing only which values go with a template is worth exactly chance.
      for (let t = 0; t < spec.templates.length; t++) {
        const counts = new Map<string, number>();
        for (const e of train.filter((x) => parse(x.prompt, spec.name).template === t)) counts.set(e.answer, (counts.get(e.answer) ?? 0) + 1);
        expect([...counts.values()]).toEqual([3, 3, 3, 3]);
      }
    }
  });

  it('offers distinct same-domain choices with the gold one at label', () => {
    const task = builtinTask(11, { choices: 4 });
    for (const e of [...task.train, ...task.test]) {
      const values = BUILTIN_DOMAINS.find((d) => d.name === e.domain)!.values.map((v) => ` ${v}`);
      expect(e.choices).toHaveLength(4);
      expect(new Set(e.choices).size).toBe(4);
      for (const c of e.choices) expect(values).toContain(c);
    }
    for (const e of task.train) expect(e.choices[e.label]).toBe(e.answer);
  });

  it('respects world options and rejects bad ones', () => {
    const small = builtinTask(1, { domains: 2, entitiesPerDomain: 8, choices: 3 });
    expect(new Set(small.test.map((i) => i.domain))).toEqual(new Set(['city', 'sound']));
    expect(small.test).toHaveLength(16);
    expect(small.test[0]!.choices).toHaveLength(3);
    expect(() => builtinTask(1, { domains: 7 })).toThrow(/domains must be an integer in \[1, 6\]/);
    expect(() => builtinTask(1, { entitiesPerDomain: 33 })).toThrow(/entitiesPerDomain/);
    expect(() => builtinTask(1, { choices: 5 })).toThrow(/choices must be an integer in \[2, 4\]/);
    expect(() => builtinTask(1, { valuesPerDomain: 9 })).toThrow(/valuesPerDomain must be an integer in \[2, 8\]/);
    expect(builtinTask(1, { valuesPerDomain: 8 }).test[0]!.choices).toHaveLength(8);
  });

  it('holds knowledge the federation has as a whole but a non-IID client lacks', () => {
    const task = builtinTask(2);
    expect(lookupAccuracy(task.train, task.test)).toBe(1);
    const split = splitFederated(task.train, { seed: 2, clients: 3, strategy: { kind: 'domain', ownShare: 1 } });
    const own = new Set(split.ownDomains![0]);
    const foreign = task.test.filter((i) => !own.has(i.domain));
    const mine = task.test.filter((i) => own.has(i.domain));
    // Client 0's shard is a quarter of the data, so it states only some of its own facts.
    expect(lookupAccuracy(split.private[0]!, mine)).toBeGreaterThan(0.6);
    expect(lookupAccuracy(split.private[0]!, foreign)).toBeLessThan(0.4);
  });
});

describe('builtinPretrainCorpus', () => {
  it('states the chosen share of task facts, never in their held-out phrasing', () => {
    const task = builtinTask(4);
    const corpus = builtinPretrainCorpus(4, { factFraction: 0.25 });
    expect(corpus).toEqual(builtinPretrainCorpus(4, { factFraction: 0.25 }));
    expect(corpus.knownFacts).toHaveLength(6 * 4);
    const texts = new Set(corpus.texts);
    for (const item of task.test) expect(texts.has(item.prompt + item.choices[item.label])).toBe(false);
    const trainTexts = new Set(task.train.map((e) => e.prompt + e.answer));
    const taskFactLines = corpus.texts.filter((t) => trainTexts.has(t));
    expect(taskFactLines).toHaveLength(corpus.knownFacts.length * 3);
    for (const fact of corpus.knownFacts) expect(task.world.facts).toContainEqual(fact);
  });

  it('teaches templates with filler entities outside the task', () => {
    const task = builtinTask(4);
    const none = builtinPretrainCorpus(4, { factFraction: 0 });
    const taskEntities = new Set(task.world.facts.map((f) => f.entity));
    for (const f of none.fillerFacts) expect(taskEntities.has(f.entity)).toBe(false);
    expect(none.fillerFacts).toHaveLength(6 * 16);
    expect(none.knownFacts).toHaveLength(0);
    for (const text of none.texts) {
      for (const w of text.split(/[^A-Za-z]+/)) expect(taskEntities.has(w), `${w} leaked in "${text}"`).toBe(false);
    }
    const all = builtinPretrainCorpus(4, { factFraction: 1, fillerEntitiesPerDomain: 2, categoryLinesPerDomain: 0 });
    expect(all.knownFacts).toHaveLength(96);
    expect(all.texts).toHaveLength(96 * 3 + 6 * 2 * 4);
    expect(() => builtinPretrainCorpus(4, { factFraction: 1.5 })).toThrow(/factFraction/);
    expect(() => builtinPretrainCorpus(4, { factFraction: 0.5, fillerEntitiesPerDomain: 17 })).toThrow(/fillerEntitiesPerDomain/);
  });
});
