import { describe, expect, it } from 'vitest';
import { encodeSample, encodeTextWindows } from '../../core/models/sample-encoding.js';
import { MODEL_UNK, ModelVocab } from '../../core/models/vocab.js';
import { WordTokenizer } from './word-tokenizer.js';

const words = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

describe('ModelVocab', () => {
  const tok = new WordTokenizer(words);
  const id = (piece: string): number => tok.tokenToId(piece) as number;

  it('holds the specials and the corpus ids, in tokenizer-id order after the unk', () => {
    const vocab = ModelVocab.build(tok, [{ prompt: 'a b', answer: ' c' }, 'd']);
    // tokenizer ids: <unk>=0 <s>=1 </s>=2 <pad>=3; corpus pieces: a, Ġb, Ġc, d
    const corpusIds = [id('a'), id('d'), id('Ġb'), id('Ġc')].sort((x, y) => x - y);
    expect(vocab.tokenizerIds()).toEqual([0, 1, 2, 3, ...corpusIds]);
    expect(vocab.size).toBe(8);
    expect(vocab.unkHasTokenizerId).toBe(true);
  });

  it('maps exactly both ways, and ids outside the vocabulary to the model unk', () => {
    const vocab = ModelVocab.build(tok, ['a b']);
    for (const t of [id('a'), id('Ġb'), 1, 2, 3]) expect(vocab.toTokenizer(vocab.toModel(t))).toBe(t);
    expect(vocab.toModel(id('Ġg'))).toBe(MODEL_UNK);
    expect(vocab.toTokenizer(MODEL_UNK)).toBe(tok.specials.unk);
    expect(() => vocab.toTokenizer(99)).toThrow(/model id 99 is outside the vocabulary/);
  });

  it('gives a tokenizer without unk a model unk with no tokenizer id', () => {
    const bare = new WordTokenizer(words, { specials: false });
    const vocab = ModelVocab.build(bare, ['a b']);
    expect(vocab.unkHasTokenizerId).toBe(false);
    expect(vocab.toTokenizer(MODEL_UNK)).toBe(-1);
    expect(vocab.size).toBe(3);
  });

  it('round-trips through its saved id list', () => {
    const vocab = ModelVocab.build(tok, ['a b c']);
    const restored = ModelVocab.fromSaved(tok.name, vocab.tokenizerIds());
    expect(restored.tokenizerIds()).toEqual(vocab.tokenizerIds());
    expect(() => ModelVocab.fromSaved(tok.name, [0, 5, 4])).toThrow(/index 2 is not a strictly ascending/);
  });
});

describe('encodeSample', () => {
  const tok = new WordTokenizer(words);

  it('is [bos] + prompt + answer with the answer span marked', () => {
    const e = encodeSample(tok, { prompt: 'a b', answer: ' c d' }, 16);
    expect(e.ids).toEqual([1, ...tok.encode('a b'), ...tok.encode(' c d')]);
    expect(e.answerStart).toBe(3);
  });

  it('drops prompt tokens from the left when too long, keeping bos', () => {
    // bos + 4 prompt + 2 answer = 7 > 5: keep bos, the last 2 prompt tokens, the answer
    const e = encodeSample(tok, { prompt: 'a b c d', answer: ' e f' }, 5);
    expect(e.ids).toEqual([1, ...tok.encode(' c d'), ...tok.encode(' e f')]);
    expect(e.answerStart).toBe(3);
  });

  it('keeps the first answer tokens when the answer alone overflows', () => {
    const e = encodeSample(tok, { prompt: 'a', answer: ' b c d e' }, 3);
    expect(e.ids).toEqual([1, ...tok.encode(' b c')]);
    expect(e.answerStart).toBe(1);
  });

  it('adds no bos when the tokenizer has none', () => {
    const bare = new WordTokenizer(words, { specials: false });
    expect(encodeSample(bare, { prompt: 'a', answer: ' b' }, 8).ids).toEqual(bare.encode('a b'));
  });

  it('cuts plain text into windows that each start with bos', () => {
    const windows = encodeTextWindows(tok, 'a b c d e', 3);
    expect(windows.map((w) => w.ids)).toEqual([
      [1, ...tok.encode('a b')],
      [1, ...tok.encode(' c d')],
      [1, ...tok.encode(' e')],
    ]);
    expect(() => encodeSample(tok, { prompt: 'a', answer: ' b' }, 1)).toThrow(/maxSeqLen must be an integer >= 2/);
  });
});
