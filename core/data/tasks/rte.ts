/**
 * RTE (SuperGLUE). Only train.jsonl is shared, so a seeded held-out share of it evaluates and
 * the rest trains (disjoint; see holdout.ts).
 * Prompt (FedMKT paper, as lm-evaluation-harness SuperGLUE `rte`):
 * `{premise}\nQuestion: {hypothesis} True or False?\nAnswer:`, choices ` True` (entailment) / ` False`.
 * Domain: the gold label (`entailment` / `not_entailment`), so non-IID splits give label skew.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { heldOutChoiceTask } from './holdout.js';
import { readJsonl } from './jsonl.js';

const RteSchema = z.object({
  premise: z.string(),
  hypothesis: z.string(),
  label: z.enum(['entailment', 'not_entailment']),
});

export async function loadRte(dir: string, seed: number, evalFraction: number): Promise<MultipleChoiceTask> {
  const file = join(dir, 'train.jsonl');
  const records = await readJsonl(file, RteSchema);
  const examples = records.map(({ value }) =>
    choiceExample(
      `${value.premise}\nQuestion: ${value.hypothesis} True or False?\nAnswer:`,
      [' True', ' False'],
      value.label === 'entailment' ? 0 : 1,
      value.label,
    ),
  );
  return heldOutChoiceTask('rte', file, examples, seed, evalFraction);
}
