/**
 * `fedmkt generate`: load a pretrained checkpoint and print a continuation of a prompt, so a user
 * sees that a model loaded correctly before running a federation with it. The text goes to
 * stdout as llama2.c's run.c prints it (the prompt as decoded, then the continuation); timing
 * and backend to stderr. Usage errors exit 2.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { backendAdvice, initBackend, type BackendName } from '../../core/models/backend.js';
import { createModel } from '../../core/models/factory.js';
import { continueIds } from '../../core/models/generation.js';
import { checkpointParameters } from '../../core/models/pretrained/open.js';
import { Llama2cTokenizer } from '../../core/tokenizers/llama2c-tokenizer.js';
import { listTokenizers, loadTokenizer } from '../../core/tokenizers/registry.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../options.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';

interface GenerateOptions {
  checkpoint: string;
  tokenizer?: string;
  prompt: string;
  tokens: number;
  greedy?: boolean;
  temperature: number;
  seed: number;
  backend?: BackendName;
}

/** Where the output goes: the text, and notes about the run. */
export interface GenerateOutput {
  text(line: string): void;
  note(line: string): void;
}

const stdio: GenerateOutput = {
  text: (line) => process.stdout.write(`${line}\n`),
  note: (line) => process.stderr.write(`[fedmkt] ${line}\n`),
};

/** A wrong flag or path, reported as a usage error (exit 2). */
class UsageError extends Error {}

/** The checkpoint's own tokenizer when none is given: tokenizer.json in a Hugging Face folder, tokenizer.bin beside a llama2.c file. */
function tokenizerPath(options: GenerateOptions): string {
  if (options.tokenizer !== undefined) {
    const registered = listTokenizers().some((t) => t.name === options.tokenizer);
    if (!registered && !existsSync(options.tokenizer)) throw new UsageError(`--tokenizer ${options.tokenizer}: no such file or folder, nor a registry name`);
    return options.tokenizer;
  }
  const folder = statSync(options.checkpoint).isDirectory();
  const candidate = folder ? join(options.checkpoint, 'tokenizer.json') : join(dirname(options.checkpoint), 'tokenizer.bin');
  if (existsSync(candidate)) return candidate;
  throw new UsageError(`--tokenizer: none given and no ${candidate}; give the model's tokenizer (its tokenizer.json, or llama2.c's tokenizer .bin)`);
}

export async function runGenerate(options: GenerateOptions, out: GenerateOutput = stdio): Promise<void> {
  if (!existsSync(options.checkpoint)) throw new UsageError(`--checkpoint ${options.checkpoint}: no such file or folder`);
  const tokenizer: Tokenizer = await loadTokenizer(tokenizerPath(options));
  const backend = await initBackend(options.backend);
  const parameters = checkpointParameters(options.checkpoint);
  const advice = backendAdvice(parameters, backend);
  if (advice) out.note(advice);
  const start = performance.now();
  const model = createModel({ spec: { checkpoint: options.checkpoint }, tokenizer, seed: options.seed });
  try {
    out.note(
      `${options.checkpoint}: ${model.config.arch}, ${(parameters / 1e6).toFixed(2)}M parameters, loaded in ${((performance.now() - start) / 1000).toFixed(2)} s on ${backend}`,
    );
    const bos = tokenizer.specials.bos;
    const promptIds = [...(bos === undefined ? [] : [bos]), ...tokenizer.encode(options.prompt)];
    // llama2.c stops at bos (eos is an ordinary token there); Hugging Face models at eos
    const stopAt = tokenizer instanceof Llama2cTokenizer ? bos : tokenizer.specials.eos;
    const generating = performance.now();
    const generated = continueIds(model, promptIds, {
      tokens: options.tokens,
      greedy: options.greedy === true,
      temperature: options.temperature,
      seed: options.seed,
      ...(stopAt === undefined ? {} : { stop: [stopAt] }),
    });
    const seconds = (performance.now() - generating) / 1000;
    const before = tokenizer.decode(promptIds);
    const all = tokenizer.decode([...promptIds, ...generated]);
    out.text(all.startsWith(before) ? `${before}${all.slice(before.length)}` : `${before}${tokenizer.decode(generated)}`);
    out.note(
      `${generated.length} tokens in ${seconds.toFixed(2)} s (${(generated.length / seconds).toFixed(0)} tokens/s), ${options.greedy ? 'greedy' : `sampled at temperature ${options.temperature}, seed ${options.seed}`}`,
    );
  } finally {
    model.dispose();
  }
}

export function registerGenerateCommand(program: Command): void {
  const command = program
    .command('generate')
    .description('print a continuation of a prompt by a pretrained checkpoint (llama2.c .bin or Hugging Face folder)')
    .requiredOption('--checkpoint <path>', 'llama2.c .bin file, or Hugging Face folder (config.json with model.safetensors or its index)')
    .option('--tokenizer <path>', "the model's tokenizer: tokenizer.json, a folder with it, or llama2.c's tokenizer .bin (default: the checkpoint's own)")
    .requiredOption('--prompt <text>', 'text to continue')
    .requiredOption('--tokens <n>', 'tokens to generate at most', positiveInt)
    .option('--greedy', 'take the most likely token each step (default: sample)')
    .option('--temperature <t>', 'sampling temperature', positiveNumber, 1)
    .option('--seed <n>', 'seed of the sampling', nonNegativeInt, 0)
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)');
  command.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  command.action(async (options: GenerateOptions) => {
    try {
      await runGenerate(options);
    } catch (error) {
      if (error instanceof UsageError) command.error(`error: ${error.message}`, { exitCode: 2, code: 'fedmkt.usage' });
      throw error;
    }
  });
}
