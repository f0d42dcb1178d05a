import { describe, expect, it } from 'vitest';
import { ESCAPED_BYTE_BASE } from '../../core/tokenizers/bytes.js';
import { normalisedVocab, SpecialRole, TokenKind } from '../../core/tokenizers/normalise.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';

function id(tokenizer: Tokenizer, token: string): number {
  const found = tokenizer.tokenToId(token);
  if (found === undefined) throw new Error(`${tokenizer.name} has no token ${JSON.stringify(token)}`);
  return found;
}

describe('normalised token view', () => {
  it('spells GPT-2 `Ċ` and LLaMA `<0x0A>` both as a newline', async () => {
    const gpt2 = normalisedVocab(await loadTokenizer('gpt2'));
    const llama2 = normalisedVocab(await loadTokenizer('llama2'));
    expect(gpt2.spelling(id(gpt2.tokenizer, 'Ċ'))).toBe('\n');
    const newline = id(llama2.tokenizer, '<0x0A>');
    expect(llama2.spelling(newline)).toBe('\n');
    expect(llama2.kind[newline]).toBe(TokenKind.Byte);
    expect(gpt2.kind[id(gpt2.tokenizer, 'Ċ')]).toBe(TokenKind.Text);
  });

  it('spells both word-start markers as a leading space and strips it from the body', async () => {
    const gpt2 = normalisedVocab(await loadTokenizer('gpt2'));
    const llama2 = normalisedVocab(await loadTokenizer('llama2'));
    const g = id(gpt2.tokenizer, 'Ġthe');
    const l = id(llama2.tokenizer, '▁the');
    expect(gpt2.spelling(g)).toBe(' the');
    expect(llama2.spelling(l)).toBe(' the');
    expect(gpt2.wordStart[g]).toBe(1);
    expect(gpt2.bodyStart(g)).toBe((gpt2.offsets[g] as number) + 1);
    expect(gpt2.wordStart[id(gpt2.tokenizer, 'the')]).toBe(0);
    expect(llama2.spelling(id(llama2.tokenizer, '▁▁'))).toBe('  ');
  });

  it('decodes byte-level spellings to text and lone bytes to the same escape as byte-fallback tokens', async () => {
    const gpt2 = normalisedVocab(await loadTokenizer('gpt2'));
    const llama2 = normalisedVocab(await loadTokenizer('llama2'));
    expect(gpt2.spelling(id(gpt2.tokenizer, 'ĠcafÃ©'))).toBe(' café');
    expect(llama2.spelling(id(llama2.tokenizer, '▁café'))).toBe(' café');
    const lone = String.fromCharCode(ESCAPED_BYTE_BASE + 0xc3);
    expect(gpt2.spelling(id(gpt2.tokenizer, 'Ã'))).toBe(lone);
    expect(llama2.spelling(id(llama2.tokenizer, '<0xC3>'))).toBe(lone);
  });

  it('marks special tokens by role', async () => {
    const gpt2 = normalisedVocab(await loadTokenizer('gpt2'));
    const end = id(gpt2.tokenizer, '<|endoftext|>');
    expect(gpt2.kind[end]).toBe(TokenKind.Special);
    expect(gpt2.roles[end]).toBe(SpecialRole.bos | SpecialRole.eos | SpecialRole.unk);
    const llama2 = normalisedVocab(await loadTokenizer('llama2'));
    expect(llama2.roles[1]).toBe(SpecialRole.bos);
    expect(llama2.roles[2]).toBe(SpecialRole.eos);
    expect(llama2.roles[0]).toBe(SpecialRole.unk);
    const qwen3 = normalisedVocab(await loadTokenizer('qwen3'));
    expect(qwen3.roles[id(qwen3.tokenizer, '<|endoftext|>')]).toBe(SpecialRole.pad);
    expect(qwen3.roles[id(qwen3.tokenizer, '<|im_end|>')]).toBe(SpecialRole.eos);
    // A special without a role is still special; Qwen's non-special added `<think>` is text.
    expect(qwen3.kind[id(qwen3.tokenizer, '<|im_start|>')]).toBe(TokenKind.Special);
    expect(qwen3.kind[id(qwen3.tokenizer, '<think>')]).toBe(TokenKind.Text);
    expect(qwen3.spelling(id(qwen3.tokenizer, '<think>'))).toBe('<think>');
  });
});
