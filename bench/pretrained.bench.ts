/**
 * The real stories260K model (../shared/models/stories260K) on the active backend, in one thread:
 *
 * - pretrained.score.stories260K: scoring throughput as FedMKT's steps 2 and 5 run it
 *   (scorePublic: logits, top-16 and the per-sample cross-entropy) over a batch of 32 sequences
 *   of 256 tokens, in tokens/s, median of 5 runs after one warm-up; baseline: llama2.c's own
 *   generation speed on this machine as SOURCE.md records it (run.c, one core), goal ratio >= 1.
 * - pretrained.load.hf and pretrained.load.llama2c: seconds from a checkpoint on disk to a ready
 *   model (header, tensors streamed into the network), median of 5.
 *
 * Nothing is reported (a note on stderr) when the fixture is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../core/models/backend.js';
import { createModel } from '../core/models/factory.js';
import type { TextSample } from '../core/models/model.js';
import { encodeSample } from '../core/models/sample-encoding.js';
import { Llama2cTokenizer } from '../core/tokenizers/llama2c-tokenizer.js';
import { timeIt, type Benchmark, type Figure } from './harness.js';

const DIR = fileURLToPath(new URL('../../shared/models/stories260K', import.meta.url));
const SEQUENCES = 32;
const TOKENS = 256;

/** run.c's tokens/s on one core of this machine, as SOURCE.md states it ("about 4,900 tokens/s"). */
function llama2cTokensPerSecond(): number | undefined {
  const match = /about ([\d,]+) tokens\/s/.exec(readFileSync(join(DIR, 'SOURCE.md'), 'utf8'));
  return match?.[1] ? Number(match[1].replaceAll(',', '')) : undefined;
}

/** 32 TinyStories-like samples cut to exactly 256 tokens each (bos included). */
function samples(tokenizer: Llama2cTokenizer): TextSample[] {
  const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { greedy_text: string; encodings: { text: string }[] };
  const story = `${expected.greedy_text} ${expected.encodings.map((e) => e.text).join(' ')}`;
  return Array.from({ length: SEQUENCES }, (_, i) => {
    const sample = { prompt: `${story.slice(i * 7)} ${story} ${story}`, answer: ' The end.' };
    const length = encodeSample(tokenizer, sample, TOKENS).ids.length;
    if (length !== TOKENS) throw new Error(`pretrained bench: sample ${i} encodes to ${length} tokens, not ${TOKENS}`);
    return sample;
  });
}

async function run(): Promise<Figure[]> {
  if (!existsSync(join(DIR, 'expected.json'))) {
    process.stderr.write(`pretrained bench: skipped, ${DIR} (../shared/models/stories260K) does not exist\n`);
    return [];
  }
  const backend = await initBackend();
  const tokenizer = Llama2cTokenizer.fromFile(join(DIR, 'tok512.bin'));
  const load = (checkpoint: string, maxSeqLen?: number) => createModel({ spec: { checkpoint, ...(maxSeqLen ? { maxSeqLen } : {}) }, tokenizer, seed: 1 });
  const figures: Figure[] = [];

  const model = load(join(DIR, 'stories260K.bin'), TOKENS);
  const batch = samples(tokenizer);
  const seconds = await timeIt(() => model.scorePublic(batch, 16));
  model.dispose();
  const tokensPerSecond = (SEQUENCES * TOKENS) / seconds;
  const baseline = llama2cTokensPerSecond();
  figures.push({
    name: 'pretrained.score.stories260K',
    value: tokensPerSecond,
    unit: 'tokens/s',
    ...(baseline
      ? {
          baseline,
          ratio: tokensPerSecond / baseline,
          baselineIs: 'llama2.c run.c greedy generation, one core of this machine (../shared/models/stories260K/SOURCE.md)',
        }
      : {}),
    goal: 'ratio >= 1',
    backend,
    sequences: SEQUENCES,
    tokensPerSequence: TOKENS,
    wallSeconds: seconds,
    timing: 'scorePublic (logits, top-16, per-sample CE), median of 5 runs after one warm-up',
  });

  for (const [label, path] of [
    ['hf', join(DIR, 'hf')],
    ['llama2c', join(DIR, 'stories260K.bin')],
  ] as const) {
    const loadSeconds = await timeIt(() => load(path).dispose());
    figures.push({ name: `pretrained.load.${label}`, value: loadSeconds, unit: 's', backend, path, timing: 'median of 5 loads after one warm-up' });
  }
  return figures;
}

const benchmarks: Benchmark[] = [{ name: 'pretrained', run }];
export default benchmarks;
