/**
 * A small word-level tokenizer for model tests: each whitespace-led word (" blue") is one token,
 * like a byte-level BPE vocabulary in which every word is a single merge.
 */
import { hashString } from '../../core/random.js';
import type { SpecialTokens, Tokenizer } from '../../core/tokenizers/tokenizer.js';

export interface WordTokenizerOptions {
  name?: string;
  /** Give the tokenizer bos/eos/pad/unk specials (ids 0..3). Default true. */
  specials?: boolean;
}

export class WordTokenizer implements Tokenizer {
  readonly name: string;
  readonly contentHash: string;
  readonly specials: SpecialTokens;
  readonly wordStartMarker = 'Ġ';
  private readonly tokens: string[];
  private readonly ids = new Map<string, number>();

  constructor(words: readonly string[], options: WordTokenizerOptions = {}) {
    this.name = options.name ?? 'test-words';
    const withSpecials = options.specials ?? true;
    const specialTokens = withSpecials ? ['<unk>', '<s>', '</s>', '<pad>'] : [];
    const pieces = new Set<string>();
    for (const w of words) {
      pieces.add(`Ġ${w}`);
      pieces.add(w);
    }
    this.tokens = [...specialTokens, ...[...pieces].sort()];
    this.tokens.forEach((t, i) => this.ids.set(t, i));
    this.specials = withSpecials ? { unk: 0, bos: 1, eos: 2, pad: 3 } : {};
    this.contentHash = hashString(this.tokens.join('\n')).toString(16);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const match of text.matchAll(/(\s?)(\S+)/g)) {
      const piece = (match[1] ? 'Ġ' : '') + (match[2] as string);
      const id = this.ids.get(piece) ?? this.specials.unk;
      if (id === undefined) throw new Error(`WordTokenizer: '${piece}' is not in the vocabulary and there is no unk`);
      out.push(id);
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => (this.tokens[id] ?? '').replace('Ġ', ' ')).join('');
  }

  idToToken(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new Error(`WordTokenizer: no token with id ${id}`);
    return t;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }
}

/** Factory form, for model workers (TokenizerSource `{ module, factory: 'wordTokenizer', args }`). */
export function wordTokenizer(words: readonly string[], options: WordTokenizerOptions = {}): WordTokenizer {
  return new WordTokenizer(words, options);
}
