/**
 * Whether a saved model folder can be read back, checked before a run depends on it (a resumed
 * run rewrites its records once it starts, so a bad checkpoint must be found first).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FORMAT, readCheckpoint } from './checkpoint.js';

/** Null when `dir` holds a transformer or bigram checkpoint that reads back whole; else what is wrong with it. */
export async function checkpointProblem(dir: string): Promise<string | null> {
  const configFile = join(dir, 'config.json');
  let format: unknown;
  try {
    format = (JSON.parse(readFileSync(configFile, 'utf8')) as { format?: unknown }).format;
  } catch (error) {
    return `cannot read ${configFile}: ${(error as Error).message}`;
  }
  if (format === 'fedmkt-bigram') {
    const sizes = ['base.f32', 'adapter.f32'].map((f) => join(dir, f)).map((f) => [f, existsSync(f) ? statSync(f).size : -1] as const);
    for (const [file, size] of sizes) {
      if (size < 0) return `${file} is missing`;
      if (size === 0 || size % 4 !== 0) return `${file}: ${size} bytes is not a table of float32`;
    }
    const cells = sizes[0]![1] / 4;
    if (!Number.isInteger(Math.sqrt(cells))) return `${sizes[0]![0]}: ${cells} values is not a square table (cut short?)`;
    return null;
  }
  if (format !== CHECKPOINT_FORMAT) return `${configFile}: format ${JSON.stringify(format)} is neither ${CHECKPOINT_FORMAT} nor fedmkt-bigram`;
  try {
    await readCheckpoint(dir);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
