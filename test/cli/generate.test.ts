/**
 * `fedmkt generate`: the continuation printed as llama2.c's run.c prints it (stories260K from
 * ../shared, skipped naming the path when absent), and usage errors exiting 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerGenerateCommand, runGenerate } from '../../cli/commands/generate.js';
import { initBackend } from '../../core/models/backend.js';
import { Llama2cTokenizer } from '../../core/tokenizers/llama2c-tokenizer.js';

const DIR = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const present = existsSync(join(DIR, 'expected.json'));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

/** `fedmkt generate ARGS` in this process: the exit code it asks for and what it wrote to stderr. */
async function cli(args: string[]): Promise<{ code: number | undefined; stderr: string }> {
  let stderr = '';
  const program = new Command().configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  registerGenerateCommand(program);
  vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    throw new Exit(code);
  }) as typeof process.exit);
  try {
    await program.parseAsync(['node', 'fedmkt', 'generate', ...args]);
    return { code: undefined, stderr };
  } catch (e) {
    if (e instanceof Exit) return { code: e.code, stderr };
    throw e;
  }
}

afterEach(() => vi.restoreAllMocks());

describe('fedmkt generate', () => {
  it('prints the greedy continuation as run.c prints it, from both checkpoint formats', async (ctx) => {
    ctx.skip(!present, `stories260K fixture missing: ${DIR} (../shared/models/stories260K from the repository root) does not exist`);
    const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { prompt: string; prompt_ids: number[]; greedy_ids: number[] };
    const tokenizer = join(DIR, 'tok512.bin');
    const want = Llama2cTokenizer.fromFile(tokenizer).decode([...expected.prompt_ids, ...expected.greedy_ids.slice(0, 24)]);
    for (const checkpoint of [join(DIR, 'stories260K.bin'), join(DIR, 'hf')]) {
      const text: string[] = [];
      const notes: string[] = [];
      await runGenerate(
        { checkpoint, tokenizer, prompt: expected.prompt, tokens: 24, greedy: true, temperature: 1, seed: 0 },
        { text: (l) => text.push(l), note: (l) => notes.push(l) },
      );
      expect(text).toEqual([want]);
      expect(notes.join('\n')).toMatch(/llama, 0\.26M parameters, loaded in .* on wasm[\s\S]*24 tokens in/);
    }
  });

  it('exits 2 on usage errors, naming the flag', async () => {
    const badCount = await cli(['--checkpoint', 'x.bin', '--prompt', 'hi', '--tokens', 'many']);
    const noCheckpoint = await cli(['--checkpoint', 'no/such/model.bin', '--tokenizer', 'gpt2', '--prompt', 'hi', '--tokens', '3']);
    const noTokenizer = await cli(['--checkpoint', ROOT, '--prompt', 'hi', '--tokens', '3']);
    expect(badCount).toMatchObject({ code: 2 });
    expect(badCount.stderr).toMatch(/option '--tokens <n>' argument 'many' is invalid\. expected a positive integer/);
    expect(noCheckpoint).toMatchObject({ code: 2 });
    expect(noCheckpoint.stderr).toMatch(/--checkpoint no\/such\/model\.bin: no such file or folder/);
    expect(noTokenizer).toMatchObject({ code: 2 });
    expect(noTokenizer.stderr).toMatch(/--tokenizer: none given and no .*tokenizer\.json; give the model's tokenizer/);
  });
});

describe('--backend tensorflow without @tensorflow/tfjs-node', () => {
  it('says how to install it', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(
      /neither @tensorflow\/tfjs-node nor @tensorflow\/tfjs-node-gpu is installed.*npm install @tensorflow\/tfjs-node@/,
    );
    expect(await initBackend('wasm')).toBe('wasm');
  });
});
