/**
 * Pretrained checkpoints, either format: a llama2.c `.bin` file or a Hugging Face model folder.
 * Opening reads headers only; weights stream into a network parameter by parameter
 * (checkpointWeights), and every stored tensor must be used or known to hold no weight.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, type TransformerConfig } from '../config.js';
import { ARCHITECTURES, type BaseWeights } from '../network.js';
import { z } from 'zod';
import { CheckpointSpecSchema, ModelSpecSchema, type CheckpointSpec, type ModelSpec } from '../spec.js';
import { hfModelSpec, hfWeightFiles, openHf, readHfConfig } from './hf.js';
import type { OpenedCheckpoint, Recipe } from './layout.js';
import { describeLlama2c, openLlama2c } from './llama2c.js';

export type { OpenedCheckpoint } from './layout.js';

type Described = Pick<OpenedCheckpoint, 'spec' | 'vocabRows' | 'specials'> & { format: OpenedCheckpoint['format'] };

function kindOf(path: string): 'llama2.c' | 'hugging-face' {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new Error(`checkpoint ${path}: no such file or folder`);
  }
  if (!isDirectory) {
    if (path.endsWith('.safetensors') || path.endsWith('.json')) {
      throw new Error(`checkpoint ${path}: give the Hugging Face model folder (config.json with model.safetensors), not one of its files`);
    }
    return 'llama2.c';
  }
  if (!existsSync(join(path, 'config.json'))) throw new Error(`checkpoint ${path}: a folder without config.json is not a Hugging Face model folder`);
  return 'hugging-face';
}

/** A checkpoint's architecture, vocabulary rows and special ids, from its header or config alone. */
export function describeCheckpoint(path: string): Described {
  const format = kindOf(path);
  return { format, ...(format === 'llama2.c' ? describeLlama2c(path) : hfModelSpec(readHfConfig(path), path)) };
}

export function openCheckpoint(path: string): OpenedCheckpoint {
  return kindOf(path) === 'llama2.c' ? openLlama2c(path) : openHf(path);
}

/** Parameters of the network a checkpoint makes with its own full vocabulary. */
export function checkpointParameters(path: string): number {
  const { spec, vocabRows } = describeCheckpoint(path);
  const config = resolveConfig({ ...spec, lora: { rank: 1, alpha: 1, dropout: 0, targets: ['q'] } }, vocabRows);
  return Object.values(ARCHITECTURES[config.arch].params(config)).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** The full spec of a `model: { checkpoint }` entry: the checkpoint's architecture with its LoRA settings. */
export function checkpointModelSpec(entry: CheckpointSpec): ModelSpec {
  const { spec } = describeCheckpoint(entry.checkpoint);
  return { ...spec, maxSeqLen: entry.maxSeqLen ?? spec.maxSeqLen, checkpoint: entry.checkpoint, vocab: entry.vocab, lora: entry.lora };
}

/**
 * The base weights of `config` from an opened checkpoint, model id m's embedding row being stored
 * row rows[m]. Before anything is read, every stored tensor is checked to be used by a parameter
 * or known to hold none, and every tensor a parameter needs to be there with its shape: a layout
 * the loader does not know is refused by the tensor's name.
 */
export function checkpointWeights(ck: OpenedCheckpoint, config: TransformerConfig, rows: Int32Array): BaseWeights {
  const recipes = ck.recipes(config, rows);
  const used = new Set<string>();
  for (const [param, recipe] of recipes) {
    for (const { name, shape } of recipe.from) {
      if (!ck.source.has(name)) throw new Error(`checkpoint ${ck.path}: tensor '${name}' (for ${config.arch} parameter '${param}') is missing`);
      const stored = ck.source.shape(name);
      if (shape && (stored.length !== shape.length || stored.some((d, i) => d !== shape[i]))) {
        throw new Error(`checkpoint ${ck.path}: tensor '${name}' has shape [${stored}], expected [${shape}] for a ${describe(config)}`);
      }
      used.add(name);
    }
  }
  const unknown = ck.source.names().filter((n) => !used.has(n) && !ck.ignored(n));
  if (unknown.length > 0) {
    const name = unknown[0] as string;
    throw new Error(
      `checkpoint ${ck.path}: tensor '${name}' (shape [${ck.source.shape(name)}]) is not part of the ${config.arch} layout this loader knows` +
        `${unknown.length > 1 ? ` (nor are ${unknown.length - 1} more)` : ''}; refused rather than ignored`,
    );
  }
  const taken = new Set<string>();
  return {
    take: (name, shape) => {
      taken.add(name);
      const recipe = recipes.get(name) as Recipe | undefined;
      if (!recipe) throw new Error(`checkpoint ${ck.path}: no stored tensor gives ${config.arch} parameter '${name}'`);
      const values = recipe.make(ck.source);
      const size = shape.reduce((a, b) => a * b, 1);
      if (values.length !== size) throw new Error(`checkpoint ${ck.path}: parameter '${name}' came out with ${values.length} values for shape [${shape}]`);
      return values;
    },
    done: () => {
      const left = [...recipes.keys()].filter((n) => !taken.has(n));
      if (left.length > 0) throw new Error(`checkpoint ${ck.path}: the ${config.arch} network has no parameter ${left.join(', ')}`);
    },
  };
}

function describe(c: TransformerConfig): string {
  return `${c.arch} of ${c.layers} layers, width ${c.dModel}, ${c.heads} heads (${c.kvHeads} key/value), MLP ${c.dFF}, vocabulary ${c.vocabSize}`;
}

/** The files whose bytes make a checkpoint: the .bin, or config.json and the weight files. */
function checkpointFiles(path: string): string[] {
  return kindOf(path) === 'llama2.c' ? [path] : [join(path, 'config.json'), ...hfWeightFiles(path)];
}

const hashes = new Map<string, { stamp: string; hash: string }>();

/** SHA-256 over a checkpoint's files (read in chunks), remembered while they are unchanged. */
export function checkpointHash(path: string): string {
  const files = checkpointFiles(path);
  const stamp = files.map((f) => `${f}:${statSync(f).size}:${statSync(f).mtimeMs}`).join('|');
  const known = hashes.get(path);
  if (known?.stamp === stamp) return known.hash;
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(8 << 20);
  for (const file of files) {
    const fd = openSync(file, 'r');
    try {
      for (let at = 0, n = 0; (n = readSync(fd, chunk, 0, chunk.length, at)) > 0; at += n) hash.update(chunk.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  const digest = hash.digest('hex');
  hashes.set(path, { stamp, hash: digest });
  return digest;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** `{ checkpoint: PATH, ... }` without an architecture: a pretrained model entry. */
const isCheckpointEntry = (v: unknown): boolean => isObject(v) && 'checkpoint' in v && !('arch' in v);

/**
 * A `{ checkpoint: PATH }` model entry, resolved when parsed into the full spec the checkpoint's
 * header or config.json describes (an unreadable or unknown checkpoint is reported at `checkpoint`).
 */
const CheckpointModelSchema = z
  .custom<unknown>(isCheckpointEntry, { message: 'expected { checkpoint: PATH } with optional lora, maxSeqLen and vocab' })
  .pipe(CheckpointSpecSchema)
  .transform((entry, ctx): ModelSpec => {
    try {
      return checkpointModelSpec(entry);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['checkpoint'], message: (e as Error).message });
      return z.NEVER;
    }
  });

/**
 * A party's `model`: a preset name, an architecture spec, or a pretrained checkpoint entry. Each
 * object form refuses the other at its root, so a wrong entry is reported against its own form.
 */
export const ModelFieldSchema = z.union([
  z.string().min(1),
  z.custom<unknown>((v) => !isCheckpointEntry(v), { message: 'a { checkpoint } entry has no arch' }).pipe(ModelSpecSchema),
  CheckpointModelSchema,
]);
