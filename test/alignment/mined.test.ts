import { describe, expect, it } from 'vitest';
import { bruteForceTargets, bruteForceVocabMap, minedTargets, minedVocabMap } from '../../core/alignment/mined.js';
import { Random } from '../../core/random.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';
import { ListTokenizer } from './list-tokenizer.js';

function randomVocab(rng: Random, size: number, alphabet: string): string[] {
  const tokens = new Set<string>();
  while (tokens.size < size) {
    const long = rng.next() < 0.03;
    const length = long ? 30 + rng.int(12) : 1 + rng.int(rng.next() < 0.5 ? 4 : 12);
    let token = rng.next() < 0.4 ? '▁' : '';
    for (let i = 0; i < length; i++) token += alphabet[rng.int(alphabet.length)];
    tokens.add(token);
  }
  return [...tokens];
}

function idOf(tokenizer: Tokenizer, token: string): number {
  const id = tokenizer.tokenToId(token);
  if (id === undefined) throw new Error(`${tokenizer.name} has no token ${JSON.stringify(token)}`);
  return id;
}

describe('MinED vocabulary mapping', () => {
  it('maps to the exact spelling, else to the lowest id at minimum distance', () => {
    const source = new ListTokenizer('s', ['▁ab', 'ab', 'cd', '▁zz']);
    const target = new ListTokenizer('t', ['xb', 'ax', '▁ab', 'c', 'cd', 'z']);
    const map = minedVocabMap(source, target);
    // "▁ab" exact; "ab" is 1 from "xb" (id 0), "ax" (1) and "▁ab" (2): id 0 wins the tie.
    // " zz" is 2 from " ab" (2) and "z" (5): id 2 wins.
    expect(Array.from(map.targetOf)).toEqual([2, 0, 4, 2]);
    expect(Array.from(map.distance)).toEqual([0, 1, 0, 2]);
  });

  it("replaces the word-start marker by the target's (Ġ against ▁)", () => {
    const source = new ListTokenizer('s', ['Ġthe', 'the'], 'Ġ', {}, [], 'byte-level');
    const target = new ListTokenizer('t', ['the', '▁the'], '▁');
    expect(Array.from(minedVocabMap(source, target).targetOf)).toEqual([1, 0]);
  });

  it('pins specials by content, then role, and never maps text onto a special', () => {
    const source = new ListTokenizer('s', ['<s>', '</s>', '<pad>', '<sep>', 's>'], '▁', { bos: 0, eos: 1, pad: 2 }, [0, 1, 2, 3]);
    const target = new ListTokenizer('t', ['<|end|>', '<s>', 's', '<x>'], '▁', { eos: 0 }, [0, 1]);
    const map = minedVocabMap(source, target);
    // <s>: same content; </s>: eos role; <pad>: no pad, so eos; <sep>: no counterpart;
    // "s>" is text: nearest text token "s", not the special "<s>" at distance 1.
    expect(Array.from(map.targetOf)).toEqual([1, 0, 0, -1, 2]);
    expect(map.distance[3]).toBe(-1);
  });

  it('equals brute force on random vocabularies, long tokens and ties included', () => {
    for (const seed of [1, 2, 3, 4]) {
      const rng = new Random(seed);
      const alphabet = seed % 2 === 0 ? 'abc' : 'abcdefghij';
      const source = new ListTokenizer(`s${seed}`, randomVocab(rng, 400, alphabet));
      const target = new ListTokenizer(`t${seed}`, randomVocab(rng, 600, alphabet));
      const fast = minedVocabMap(source, target);
      const brute = bruteForceVocabMap(source, target);
      expect(Array.from(fast.distance)).toEqual(Array.from(brute.distance));
      expect(Array.from(fast.targetOf)).toEqual(Array.from(brute.targetOf));
      expect(fast.distance.some((d) => d >= 4)).toBe(true);
    }
  });

  it('maps GPT-2 `Ċ` to LLaMA `<0x0A>` and back, and specials by role', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    const llama2 = await loadTokenizer('llama2');
    const g = (token: string) => idOf(gpt2, token);
    const l = (token: string) => idOf(llama2, token);
    const toLlama = minedTargets(gpt2, llama2, [g('Ċ'), g('ĊĊ'), g('Ġ'), g('Ã'), g('<|endoftext|>'), g('Ġthe')]);
    expect(Array.from(toLlama.targetOf, (id) => llama2.idToToken(id))).toEqual(['<0x0A>', '<0x0A>', '▁', '<0xC3>', '</s>', '▁the']);
    expect(Array.from(toLlama.distance)).toEqual([0, 1, 0, 0, 0, 0]);
    const toGpt2 = minedTargets(llama2, gpt2, [l('<0x0A>'), l('<s>'), l('</s>'), l('<unk>'), l('<0x41>'), l('▁café')]);
    expect(Array.from(toGpt2.targetOf, (id) => gpt2.idToToken(id))).toEqual(['Ċ', '<|endoftext|>', '<|endoftext|>', '<|endoftext|>', 'A', 'ĠcafÃ©']);
  });

  it('pins across other vocabularies: Qwen3 `<|endoftext|>` by content, LLaMA-3 bos by role', async () => {
    const qwen3 = await loadTokenizer('qwen3');
    const llama3 = await loadTokenizer('llama3');
    const gpt2 = await loadTokenizer('gpt2');
    const llama2 = await loadTokenizer('llama2');
    const fromQwen = bruteForceTargets(qwen3, gpt2, [idOf(qwen3, '<|endoftext|>'), idOf(qwen3, '<|im_end|>')]);
    expect(Array.from(fromQwen.targetOf)).toEqual([50256, 50256]);
    const fromLlama3 = minedTargets(llama3, llama2, [128000, 128001, idOf(llama3, '<|start_header_id|>')]);
    expect(Array.from(fromLlama3.targetOf)).toEqual([1, 2, -1]);
  });

  it('names a bad source id', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    const llama2 = await loadTokenizer('llama2');
    expect(() => minedTargets(gpt2, llama2, [5, 60000])).toThrow(/sourceIds\[1\] = 60000 is outside the vocabulary of "gpt2" \[0, 50257\)/);
  });
});
