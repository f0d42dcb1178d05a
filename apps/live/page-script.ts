/**
 * The live page's script: the TypeScript module in ./browser, bundled by esbuild into one
 * inline script the first time it is asked for (LiveServer.start asks, so a broken bundle
 * fails the start, not the first page load) and kept in memory. No build step: `fedmkt run
 * --ui` runs from source like the rest of the CLI.
 */
import { buildSync } from 'esbuild';
import { fileURLToPath } from 'node:url';

const browser = (file: string) => fileURLToPath(new URL(`./browser/${file}`, import.meta.url));

let bundled: string | undefined;

export function livePageScript(): string {
  bundled ??= bundle();
  return bundled;
}

function bundle(): string {
  const { outputFiles } = buildSync({
    entryPoints: [browser('main.ts')],
    tsconfig: browser('tsconfig.json'),
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const text = outputFiles[0]?.text;
  if (text === undefined) throw new Error('live page: esbuild wrote no script');
  // Inline in <script>: nothing in it may close the element.
  return text.replace(/<\/(script)/gi, '<\\/$1');
}
