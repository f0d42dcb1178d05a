import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseModel, trainingCodeFingerprint } from '../../actors/base-models.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

describe('base models cached on disk', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('are pretrained once and reloaded, under a key that includes the training code', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'fedmkt-base-'));
    dirs.push(cacheDir);
    const tokenizer = await loadTokenizer('gpt2');
    const corpusFile = join(cacheDir, '..', `${cacheDir.split('/').at(-1)}-corpus.txt`);
    await writeFile(corpusFile, 'Snow is cold.\n\nFire is hot.\n\nThe sky is blue.\n');
    dirs.push(corpusFile);
    const logs: string[] = [];
    const request = {
      spec: 'gpt2-tiny',
      tokenizer,
      corpus: [{ prompt: 'Question: Is snow cold?\nAnswer:', answer: ' yes' }],
      pretrain: { corpus: corpusFile, factFraction: 0, epochs: 2, learningRate: 0.003, batchSize: 4 },
      worldSeed: 1,
      seed: 2,
      cacheDir,
      log: (line: string) => logs.push(line),
    };
    const first = await baseModel(request);
    const second = await baseModel(request);
    expect(logs.filter((l) => l.includes('pretraining'))).toHaveLength(1);
    expect(logs.at(-1)).toMatch(/cached in/);
    expect(await readdir(cacheDir)).toHaveLength(1);
    const sample = [{ prompt: 'Question: Is snow cold?\nAnswer:', answer: ' yes' }];
    expect((await second.scorePublic(sample, 4)).ce).toEqual((await first.scorePublic(sample, 4)).ce);
    expect(trainingCodeFingerprint()).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});
