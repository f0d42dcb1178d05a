/**
 * A worker thread running a module of this project. Compiled, the module's .js file starts
 * directly; run as TypeScript (tsx, vitest), a bootstrap registers tsx's ESM loader in the
 * worker and then imports the .ts file (`--import` in a worker's execArgv does not install
 * loader hooks).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `entry`: the module's URL as this (caller's) file would name it, ending in .ts or .js. */
export function projectWorker(entry: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const require = createRequire(import.meta.url);
  const tsxDir = dirname(require.resolve('tsx/package.json'));
  const exportsMap = (require('tsx/package.json') as { exports: Record<string, { import: { default: string } }> }).exports;
  const api = pathToFileURL(join(tsxDir, exportsMap['./esm/api']?.import.default ?? 'dist/esm/api/index.mjs')).href;
  const code =
    `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })` +
    `.catch((e) => { console.error('worker ${entry.pathname.split('/').pop()} failed to start:', e); process.exit(1); });`;
  return new Worker(code, { ...options, eval: true });
}
