/**
 * BoolQ. Only the official validation file (val.jsonl) is shared, so a seeded held-out share
 * of it evaluates and the rest trains (disjoint; see holdout.ts).
 * Prompt (FedMKT paper, as lm-evaluation-harness `boolq`): `{passage}\nQuestion: {question}?\nAnswer:`,
 * choices ` no` / ` yes`.
 * Domain: the gold answer (`yes` / `no`), so non-IID splits give label skew.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { heldOutChoiceTask } from './holdout.js';
import { readJsonl } from './jsonl.js';

const BoolqSchema = z.object({ question: z.string(), passage: z.string(), label: z.boolean() });

export async function loadBoolq(dir: string, seed: number, evalFraction: number): Promise<MultipleChoiceTask> {
  const file = join(dir, 'val.jsonl');
  const records = await readJsonl(file, BoolqSchema);
  const examples = records.map(({ value }) =>
    choiceExample(`${value.passage}\nQuestion: ${value.question}?\nAnswer:`, [' no', ' yes'], value.label ? 1 : 0, value.label ? 'yes' : 'no'),
  );
  return heldOutChoiceTask('boolq', file, examples, seed, evalFraction);
}
