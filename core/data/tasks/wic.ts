/**
 * WiC (SuperGLUE, v1.1). Only train.jsonl is shared, so a seeded held-out share of it evaluates
 * and the rest trains (disjoint; see holdout.ts).
 * Prompt as lm-evaluation-harness SuperGLUE `wic` (default.yaml):
 * `Sentence 1: {s1}\nSentence 2: {s2}\nQuestion: Is the word '{s1[start1:end1]}' used in the same way in the two sentences above?\nAnswer:`,
 * choices ` no` / ` yes`. The word is the surface form in sentence 1 (`laughed`, not the lemma).
 * Domain: the gold answer (`yes` / `no`), so non-IID splits give label skew.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { heldOutChoiceTask } from './holdout.js';
import { DatasetFormatError, readJsonl } from './jsonl.js';

const WicSchema = z.object({
  sentence1: z.string(),
  sentence2: z.string(),
  start1: z.number().int().nonnegative(),
  end1: z.number().int().nonnegative(),
  label: z.boolean(),
});

export async function loadWic(dir: string, seed: number, evalFraction: number): Promise<MultipleChoiceTask> {
  const file = join(dir, 'train.jsonl');
  const records = await readJsonl(file, WicSchema);
  const examples = records.map(({ value, line }) => {
    // Offsets count code points, as Python string slicing does.
    const chars = Array.from(value.sentence1);
    if (value.end1 <= value.start1 || value.end1 > chars.length) {
      throw new DatasetFormatError(file, line, 'end1', `span [${value.start1}, ${value.end1}) is not inside sentence1 (${chars.length} characters)`);
    }
    const word = chars.slice(value.start1, value.end1).join('');
    return choiceExample(
      `Sentence 1: ${value.sentence1}\nSentence 2: ${value.sentence2}\nQuestion: Is the word '${word}' used in the same way in the two sentences above?\nAnswer:`,
      [' no', ' yes'],
      value.label ? 1 : 0,
      value.label ? 'yes' : 'no',
    );
  });
  return heldOutChoiceTask('wic', file, examples, seed, evalFraction);
}
