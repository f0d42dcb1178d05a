import { createHash } from 'node:crypto';
import type { ByteEncoding, SpecialTokens, Tokenizer } from '../../core/tokenizers/tokenizer.js';

/**
 * A tokenizer over an explicit token list, for hand-built alignment cases and randomised
 * comparisons against brute force. Encodes by greedy longest match.
 */
export class ListTokenizer implements Tokenizer {
  readonly contentHash: string;
  readonly vocabSize: number;
  private readonly ids = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly tokens: readonly string[],
    readonly wordStartMarker = '▁',
    readonly specials: SpecialTokens = {},
    readonly specialIds: readonly number[] = [],
    readonly byteEncoding: ByteEncoding = 'byte-fallback',
  ) {
    this.vocabSize = tokens.length;
    tokens.forEach((token, id) => {
      if (!this.ids.has(token)) this.ids.set(token, id);
    });
    this.contentHash = createHash('sha256')
      .update(JSON.stringify([wordStartMarker, tokens, specials, specialIds]))
      .digest('hex');
  }

  encode(text: string): number[] {
    const spelled = this.wordStartMarker ? text.replaceAll(' ', this.wordStartMarker) : text;
    const out: number[] = [];
    let at = 0;
    while (at < spelled.length) {
      let best = -1;
      let bestLength = 0;
      this.tokens.forEach((token, id) => {
        if (token.length > bestLength && !this.specialIds.includes(id) && spelled.startsWith(token, at)) {
          best = id;
          bestLength = token.length;
        }
      });
      if (best < 0) throw new Error(`${this.name}: no token matches ${JSON.stringify(spelled.slice(at))}`);
      out.push(best);
      at += bestLength;
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    const text = ids.map((id) => this.idToToken(id)).join('');
    return this.wordStartMarker ? text.replaceAll(this.wordStartMarker, ' ') : text;
  }

  idToToken(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) throw new Error(`${this.name}: id ${id} outside [0, ${this.vocabSize})`);
    return token;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }
}
