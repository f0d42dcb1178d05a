import type { PublicLogits } from '../protocol/messages.js';
import { loadTokenizer } from '../tokenizers/registry.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { AlignmentFallback, TokenAlignment } from './aligned-teacher.js';
import { alignLogits, type AlignmentResult, type ReceiverTokens } from './align-logits.js';
import { VocabPair } from './token-pair.js';
import { VocabMapCache } from './vocab-map-cache.js';

export interface TokenAlignerOptions {
  /** Vocab map cache folder; default `.cache/fedmkt/vocab-maps` under the working directory. */
  cacheDir?: string;
  /** A cache to share between aligners (overrides `cacheDir`). */
  cache?: VocabMapCache;
  /** Tokenizer lookup by the names in {@link PublicLogits.tokenizer}; default the registry. */
  loadTokenizer?: (name: string) => Promise<Tokenizer>;
}

/**
 * Token alignment as the actors use it (FedMKT steps 3 and 7): resolves both tokenizers by
 * name, gets the sender-to-receiver MinED map from the cache (computing it once per pair of
 * tokenizers), and lays the sender's top-K over the receiver's tokenisation.
 */
export class TokenAligner implements TokenAlignment {
  readonly cache: VocabMapCache;
  private readonly load: (name: string) => Promise<Tokenizer>;
  private readonly pairs = new Map<string, Promise<VocabPair>>();

  constructor(options: TokenAlignerOptions = {}) {
    this.cache = options.cache ?? new VocabMapCache(options.cacheDir);
    this.load = options.loadTokenizer ?? loadTokenizer;
  }

  /** The prepared (sender, receiver) pair, built once per aligner. */
  pair(senderTokenizer: string, receiverTokenizer: string): Promise<VocabPair> {
    const key = `${senderTokenizer}\u0000${receiverTokenizer}`;
    let pending = this.pairs.get(key);
    if (!pending) {
      pending = (async () => {
        const [sender, receiver] = await Promise.all([this.load(senderTokenizer), this.load(receiverTokenizer)]);
        return new VocabPair(sender, receiver, await this.cache.get(sender, receiver));
      })();
      this.pairs.set(key, pending);
      pending.catch(() => this.pairs.delete(key));
    }
    return pending;
  }

  async prepare(senderTokenizer: string, receiverTokenizer: string): Promise<void> {
    await this.pair(senderTokenizer, receiverTokenizer);
  }

  /**
   * The sender's top-K as a teacher over the receiver's tokens (`receiver`: its own scored
   * view's `tokenizer`, `tokenIds` and `lengths`). The teacher's `ce` is the sender's.
   */
  async align(sender: PublicLogits, receiver: ReceiverTokens, fallback: AlignmentFallback = 'next-token'): Promise<AlignmentResult> {
    const pair = await this.pair(sender.tokenizer, receiver.tokenizer);
    return alignLogits(pair, sender, receiver, fallback);
  }
}
