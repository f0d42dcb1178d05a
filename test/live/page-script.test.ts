/**
 * The live page's browser module (apps/live/browser): type-checked with its own tsconfig (the
 * DOM instead of Node, which the root one leaves out), and bundled into one inline script.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { livePage } from '../../apps/live/index.js';
import { livePageScript } from '../../apps/live/page-script.js';

const browserDir = join(dirname(fileURLToPath(import.meta.url)), '../../apps/live/browser');

describe('the live page script', () => {
  it('type-checks as a browser module (strict, DOM lib, no Node types)', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(browserDir, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!config) throw new Error('no tsconfig for apps/live/browser');
    expect(config.fileNames.map((f) => f.slice(browserDir.length + 1)).sort()).toContain('main.ts');
    expect(config.options.types).toEqual([]);
    const program = ts.createProgram(config.fileNames, config.options);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(problems).toEqual([]);
  }, 60_000);

  it('is bundled once into a script the page inlines, which nothing in it can close', () => {
    const script = livePageScript();
    expect(livePageScript()).toBe(script);
    expect(script).toContain('fedmktLive');
    expect(script).not.toMatch(/<\/script/i);
    expect(script).not.toMatch(/^\s*(import|export)\s/m);
    expect(livePage('a run')).toContain(`<script>${script}</script>`);
  });
});
