import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { encodeSample } from '../../core/models/sample-encoding.js';
import { createModel } from '../../core/models/factory.js';
import type { TextSample } from '../../core/models/model.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

beforeAll(async () => {
  await initBackend();
});

const samples: TextSample[] = [
  { prompt: 'Question: What color is the sky?\nAnswer:', answer: ' blue' },
  { prompt: 'Question: What color is grass?\nAnswer:', answer: ' green' },
  { prompt: 'Question: Is snow cold?\nAnswer:', answer: ' yes' },
];

describe.each([
  ['gpt2', 'gpt2-tiny'],
  ['llama2', 'llama-tiny'],
] as const)('with the real %s tokenizer', (tokenizerName, preset) => {
  it('speaks tokenizer ids in PublicLogits and trains on its compact vocabulary', async () => {
    const tokenizer = await loadTokenizer(tokenizerName);
    const m = createModel({ spec: preset, tokenizer, corpus: samples, seed: 1 });
    expect(m.vocab.size).toBeLessThan(60);
    await m.trainEpochs(samples, { epochs: 1, learningRate: 1e-3, batchSize: 2 });
    const scored = await m.scorePublic(samples, 8);
    // The answer as the tokenizer splits it in context: llama2 writes " blue" after "Answer:" as
    // one token "▁blue", but alone as "▁" "blue".
    const inContext = tokenizer.encode(samples[0]!.prompt + samples[0]!.answer);
    const first = [tokenizer.specials.bos, ...inContext].filter((id): id is number => id !== undefined);
    expect(Array.from(scored.tokenIds.subarray(0, scored.lengths[0]))).toEqual(first);
    const encoded = encodeSample(tokenizer, samples[0]!, 64);
    expect(encoded.ids.slice(encoded.answerStart).map((id) => tokenizer.decode([id]).trim())).toEqual(['blue']);
    if (tokenizerName === 'llama2') expect(tokenizer.encode(' blue')).toHaveLength(2);
    expect(scored.tokenizer).toBe(tokenizerName);
    for (const id of scored.topKIds) expect(id === -1 || m.vocab.has(id) || id === tokenizer.specials.unk).toBe(true);
    expect(Array.from(scored.ce).every((ce) => ce > 0 && Number.isFinite(ce))).toBe(true);
    m.dispose();
  });
});
