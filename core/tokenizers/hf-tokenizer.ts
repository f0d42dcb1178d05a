import { AutoTokenizer, env, type PreTrainedTokenizer } from '@xenova/transformers';
import type { ByteEncoding, SpecialTokens, Tokenizer } from './tokenizer.js';

// Everything is read from local files; never let the library reach for the Hub.
env.allowRemoteModels = false;

/** The parts of a Hugging Face `tokenizer.json` this module reads; the rest goes to the library as is. */
interface TokenizerJson {
  model: { type?: string; vocab?: unknown; merges?: unknown; byte_fallback?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  decoder?: unknown;
  [key: string]: unknown;
}

type ConfigToken = string | { content: string } | null | undefined;

interface TokenizerConfigJson {
  tokenizer_class?: string;
  bos_token?: ConfigToken;
  eos_token?: ConfigToken;
  pad_token?: ConfigToken;
  unk_token?: ConfigToken;
  [key: string]: unknown;
}

const ROLES = ['bos', 'eos', 'pad', 'unk'] as const;

function configTokenContent(token: ConfigToken): string | undefined {
  if (token === null || token === undefined) return undefined;
  return typeof token === 'string' ? token : token.content;
}

function mentions(component: unknown, needle: string): boolean {
  return component !== null && component !== undefined && JSON.stringify(component).includes(needle);
}

function checkTokenizerJson(value: unknown, where: string): TokenizerJson {
  if (typeof value !== 'object' || value === null) throw new Error(`${where}: tokenizer.json is not a JSON object`);
  const model = (value as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null) throw new Error(`${where}: tokenizer.json has no "model" object`);
  const added = (value as { added_tokens?: unknown }).added_tokens;
  if (added !== undefined && !Array.isArray(added)) throw new Error(`${where}: tokenizer.json "added_tokens" is not an array`);
  return value as TokenizerJson;
}

function checkTokenizerConfig(value: unknown, where: string): TokenizerConfigJson {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: tokenizer_config.json is not a JSON object`);
  }
  return value as TokenizerConfigJson;
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) run by `@xenova/transformers`,
 * constructed directly from the parsed files so nothing is fetched.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specials: SpecialTokens;
  readonly wordStartMarker: string;
  readonly byteEncoding: ByteEncoding;
  readonly specialIds: readonly number[];
  private readonly inner: PreTrainedTokenizer;
  private readonly vocab: readonly string[];

  constructor(
    readonly name: string,
    readonly contentHash: string,
    tokenizerJson: unknown,
    tokenizerConfig: unknown,
  ) {
    const json = checkTokenizerJson(tokenizerJson, name);
    const config = checkTokenizerConfig(tokenizerConfig, name);
    const merges = json.model.merges;
    // transformers.js 2.x only parses "a b" merges; newer files spell them ["a", "b"].
    if (Array.isArray(merges) && merges.length > 0 && Array.isArray(merges[0])) {
      json.model.merges = (merges as string[][]).map((pair) => pair.join(' '));
    }
    const className = (config.tokenizer_class ?? 'PreTrainedTokenizer').replace(/Fast$/, '');
    type TokenizerClass = typeof AutoTokenizer.TOKENIZER_CLASS_MAPPING.PreTrainedTokenizer;
    const classes = AutoTokenizer.TOKENIZER_CLASS_MAPPING as Record<string, TokenizerClass>;
    const TokenizerClass = classes[className] ?? AutoTokenizer.TOKENIZER_CLASS_MAPPING.PreTrainedTokenizer;
    this.inner = new TokenizerClass(json, config);
    this.vocab = this.inner.model.vocab;
    this.vocabSize = this.vocab.length;
    for (let id = 0; id < this.vocabSize; id++) {
      if (typeof this.vocab[id] !== 'string') throw new Error(`${name}: vocabulary has no token for id ${id}`);
    }

    const specials: SpecialTokens = {};
    for (const role of ROLES) {
      const content = configTokenContent(config[`${role}_token`]);
      if (content === undefined) continue;
      const id = this.tokenToId(content);
      if (id === undefined) throw new Error(`${name}: tokenizer_config.json ${role}_token "${content}" is not in the vocabulary`);
      specials[role] = id;
    }
    this.specials = specials;
    const specialIds = new Set<number>(ROLES.flatMap((role) => (specials[role] === undefined ? [] : [specials[role]])));
    for (const added of json.added_tokens ?? []) if (added.special === true) specialIds.add(added.id);
    this.specialIds = [...specialIds].sort((a, b) => a - b);

    const byteLevel = [json.pre_tokenizer, json.decoder].some((part) => mentions(part, '"ByteLevel"'));
    this.byteEncoding = byteLevel ? 'byte-level' : json.model.byte_fallback === true ? 'byte-fallback' : 'none';
    const spaceToMetaspace = [json.normalizer, json.pre_tokenizer, json.decoder].some((part) => mentions(part, '▁') || mentions(part, '"Metaspace"'));
    this.wordStartMarker = byteLevel ? 'Ġ' : spaceToMetaspace ? '▁' : '';
  }

  encode(text: string): number[] {
    return this.inner.encode(text, null, { add_special_tokens: false });
  }

  decode(ids: readonly number[]): string {
    return this.inner.decode([...ids], { skip_special_tokens: false });
  }

  idToToken(id: number): string {
    const token = Number.isInteger(id) ? this.vocab[id] : undefined;
    if (token === undefined) throw new Error(`${this.name}: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return token;
  }

  tokenToId(token: string): number | undefined {
    return this.inner.model.tokens_to_ids.get(token);
  }
}
