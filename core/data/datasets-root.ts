/**
 * Where the shared real-task files live: `$FEDMKT_DATASETS` if set, else `<repo root>/../shared/datasets`.
 * The data is read in place and never copied into the repository.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DATASETS_ENV = 'FEDMKT_DATASETS';

/** This file is core/data/datasets-root.ts, so the repository root is two levels up. */
function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function datasetsRoot(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[DATASETS_ENV];
  return override ? resolve(override) : resolve(repoRoot(), '..', 'shared', 'datasets');
}

export function datasetsAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(datasetsRoot(env));
}
