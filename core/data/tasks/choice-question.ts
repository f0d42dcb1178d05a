/**
 * The record shape shared by ARC, OpenBookQA and CommonsenseQA:
 * `{"id", "question": {"stem", "choices": [{"label", "text"}]}, "answerKey"}`.
 */
import { z } from 'zod';
import { DatasetFormatError, type JsonlRecord } from './jsonl.js';

export const ChoiceQuestionSchema = z.object({
  id: z.string(),
  question: z.object({
    stem: z.string(),
    choices: z.array(z.object({ label: z.string(), text: z.string() })).min(2),
  }),
  answerKey: z.string(),
});

/** Index of `answerKey` among the choice labels (ARC mixes letters and digits "1".."5"). */
export function answerIndex(record: JsonlRecord<{ question: { choices: { label: string }[] }; answerKey: string }>, file: string): number {
  const { choices } = record.value.question;
  const key = record.value.answerKey.trim();
  const index = choices.findIndex((c) => c.label === key);
  if (index < 0) {
    const labels = choices.map((c) => c.label).join(', ');
    throw new DatasetFormatError(file, record.line, 'answerKey', `"${key}" is not one of the choice labels ${labels}`);
  }
  return index;
}
