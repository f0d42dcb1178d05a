import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Benchmark } from './harness.js';

const filter = process.argv[2];
const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();

for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Benchmark[] };
  for (const bench of mod.default) {
    if (filter && !bench.name.includes(filter)) continue;
    for (const figure of await bench.run()) console.log(JSON.stringify(figure));
  }
}
