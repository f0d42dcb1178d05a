/**
 * The one tokenisation of a labelled sample that every model method uses (training, public
 * scoring, distillation, choice scoring), so the lengths a model reports in PublicLogits are
 * the lengths it later validates an AlignedTeacher against.
 *
 *   ids = [bos if the tokenizer has one] + encode(prompt + answer)
 *
 * The answer span is the answer as the tokenizer splits it in context, after the tokens it
 * shares with encode(prompt) (lm-evaluation-harness's continuation): a SentencePiece tokenizer
 * encodes " blue" alone as "▁" "blue" but "Answer: blue" as ... ":" "▁blue". Too long a sample
 * loses prompt tokens from the left (the end of the prompt, next to the answer, matters most);
 * an answer that alone overflows keeps its first tokens.
 */
import type { TextSample } from './model.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';

export interface EncodedSample {
  /** Tokenizer ids; length <= maxSeqLen. */
  ids: number[];
  /** Index of the first answer token: ids[answerStart..] is the answer. */
  answerStart: number;
}

export function encodeSample(tokenizer: Tokenizer, sample: TextSample, maxSeqLen: number): EncodedSample {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2) {
    throw new Error(`encodeSample: maxSeqLen must be an integer >= 2, got ${maxSeqLen}`);
  }
  const prefix = tokenizer.specials.bos === undefined ? [] : [tokenizer.specials.bos];
  const room = maxSeqLen - prefix.length;
  const { prompt, answer: fullAnswer } = splitInContext(tokenizer, sample);
  const answer = fullAnswer.slice(0, room);
  const promptKept = prompt.slice(Math.max(0, prompt.length - (room - answer.length)));
  return { ids: [...prefix, ...promptKept, ...answer], answerStart: prefix.length + promptKept.length };
}

/** encode(prompt + answer) split where it stops agreeing with encode(prompt); never an empty answer. */
function splitInContext(tokenizer: Tokenizer, sample: TextSample): { prompt: number[]; answer: number[] } {
  const alone = tokenizer.encode(sample.prompt);
  const whole = tokenizer.encode(sample.prompt + sample.answer);
  let shared = 0;
  while (shared < alone.length && shared < whole.length && alone[shared] === whole[shared]) shared++;
  if (shared === whole.length) return { prompt: alone, answer: tokenizer.encode(sample.answer) };
  return { prompt: whole.slice(0, shared), answer: whole.slice(shared) };
}

/**
 * Plain text for pretraining: [bos] + encode(text), cut into consecutive windows of at most
 * maxSeqLen tokens (each window after the first starts with bos again when there is one).
 * Every token but a window's first is a prediction target.
 */
export function encodeTextWindows(tokenizer: Tokenizer, text: string, maxSeqLen: number): EncodedSample[] {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2) {
    throw new Error(`encodeTextWindows: maxSeqLen must be an integer >= 2, got ${maxSeqLen}`);
  }
  const prefix = tokenizer.specials.bos === undefined ? [] : [tokenizer.specials.bos];
  const tokens = tokenizer.encode(text);
  const step = maxSeqLen - prefix.length;
  const windows: EncodedSample[] = [];
  for (let start = 0; start < tokens.length; start += step) {
    const ids = [...prefix, ...tokens.slice(start, start + step)];
    if (ids.length >= 2) windows.push({ ids, answerStart: 0 });
  }
  return windows;
}
