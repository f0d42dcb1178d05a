/** A small synthetic prompt/answer task: the colour of a thing, behind varying filler words. */
import type { TextSample } from '../../core/models/model.js';
import { Random } from '../../core/random.js';
import { WordTokenizer } from './word-tokenizer.js';

export const COLORS = ['red', 'blue', 'green', 'yellow', 'black', 'white'];
export const THINGS = ['sky', 'grass', 'sun', 'snow', 'coal', 'milk', 'apple', 'sea', 'leaf', 'night', 'cloud', 'lemon'];
export const FILLER = ['so', 'now', 'tell', 'me', 'please', 'then', 'quick', 'friend', 'okay', 'well'];

function colorOf(thing: string): string {
  return COLORS[THINGS.indexOf(thing) % COLORS.length] as string;
}

export function colorTokenizer(options: { specials?: boolean } = {}): WordTokenizer {
  return new WordTokenizer([...COLORS, ...THINGS, ...FILLER, 'what', 'color', 'is', 'the', '?'], options);
}

/** `count` samples with seeded filler; every thing appears with its fixed colour. */
export function colorSamples(count: number, seed: number): TextSample[] {
  const rng = new Random(seed);
  return Array.from({ length: count }, (_, i) => {
    const thing = THINGS[i % THINGS.length] as string;
    const filler = Array.from({ length: 1 + rng.int(3) }, () => FILLER[rng.int(FILLER.length)]).join(' ');
    return { prompt: `${filler} what color is the ${thing}`, answer: ` ${colorOf(thing)}` };
  });
}
