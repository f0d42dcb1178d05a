/**
 * OpenBookQA (Main). train.jsonl trains, dev.jsonl evaluates.
 * Prompt as lm-evaluation-harness `openbookqa` (doc_to_text: question_stem; doc_to_choice:
 * choices.text; default target delimiter " "): the bare stem, target ` {choice text}`.
 * Domain: the Main files carry no topic, so every example is in domain `openbookqa`.
 */
import { join } from 'node:path';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { ChoiceQuestionSchema, answerIndex } from './choice-question.js';
import { readJsonl } from './jsonl.js';

async function readOpenBookQa(file: string) {
  const records = await readJsonl(file, ChoiceQuestionSchema);
  return records.map((r) =>
    choiceExample(
      r.value.question.stem,
      r.value.question.choices.map((c) => ` ${c.text}`),
      answerIndex(r, file),
      'openbookqa',
    ),
  );
}

export async function loadOpenBookQa(dir: string): Promise<MultipleChoiceTask> {
  const trainFile = join(dir, 'train.jsonl');
  const testFile = join(dir, 'dev.jsonl');
  const [train, test] = await Promise.all([readOpenBookQa(trainFile), readOpenBookQa(testFile)]);
  return {
    kind: 'multiple-choice',
    name: 'openbookqa',
    train,
    test: test.map(({ prompt, choices, label, domain }) => ({ prompt, choices, label, domain })),
    source: { trainFile, testFile },
  };
}
