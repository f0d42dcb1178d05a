/**
 * CommonsenseQA (random split). Only train_rand_split.jsonl is shared, so a seeded held-out
 * share of it evaluates (see holdout.ts) and the rest trains.
 * Prompt as lm-evaluation-harness `commonsense_qa` (default.yaml): the question and the five
 * lettered choices, `Question: {stem}\nA. {t0}\nB. {t1}\nC. {t2}\nD. {t3}\nE. {t4}\nAnswer:`,
 * scored over the letters ` A` .. ` E`.
 * Domain: the record's `question.question_concept`.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { ChoiceQuestionSchema, answerIndex } from './choice-question.js';
import { heldOutChoiceTask } from './holdout.js';
import { DatasetFormatError, readJsonl } from './jsonl.js';

const LETTERS = ['A', 'B', 'C', 'D', 'E'] as const;

const CommonsenseQaSchema = ChoiceQuestionSchema.extend({
  question: ChoiceQuestionSchema.shape.question.extend({ question_concept: z.string() }),
});

export async function loadCommonsenseQa(dir: string, seed: number, evalFraction: number): Promise<MultipleChoiceTask> {
  const file = join(dir, 'train_rand_split.jsonl');
  const records = await readJsonl(file, CommonsenseQaSchema);
  const examples = records.map((r) => {
    const { stem, choices, question_concept } = r.value.question;
    if (choices.length !== LETTERS.length) {
      throw new DatasetFormatError(file, r.line, 'question.choices', `expected ${LETTERS.length} choices, found ${choices.length}`);
    }
    const listed = choices.map((c, i) => `${LETTERS[i]}. ${c.text}`).join('\n');
    return choiceExample(
      `Question: ${stem.trim()}\n${listed}\nAnswer:`,
      LETTERS.map((l) => ` ${l}`),
      answerIndex(r, file),
      question_concept,
    );
  });
  return heldOutChoiceTask('commonsenseqa', file, examples, seed, evalFraction);
}
