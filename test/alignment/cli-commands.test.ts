import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAlignCommand } from '../../cli/commands/align.js';
import { registerVocabMapCommand } from '../../cli/commands/vocab-map.js';

async function run(args: string[], register: (program: Command, print: (line: string) => void) => void): Promise<string[]> {
  const lines: string[] = [];
  const program = new Command().exitOverride();
  register(program, (line) => lines.push(line));
  await program.parseAsync(args, { from: 'user' });
  return lines;
}

describe('CLI: vocab-map and align', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmkt-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('vocab-map writes { source token: target token } and prints counts and time', async () => {
    const out = join(dir, 'maps', 'llama2-gpt2.json');
    const args = ['vocab-map', '--from', 'llama2', '--to', 'gpt2', '--out', out, '--cache-dir', join(dir, 'cache')];
    const lines = await run(args, registerVocabMapCommand);
    const map = JSON.parse(await readFile(out, 'utf8')) as Record<string, string | null>;
    expect(Object.keys(map)).toHaveLength(32000);
    expect(map['<0x0A>']).toBe('Ċ');
    expect(map['▁the']).toBe('Ġthe');
    expect(map['<s>']).toBe('<|endoftext|>');
    expect(lines.join('\n')).toMatch(/exact matches: +\d+ \(\d+\.\d%\)/);
    expect(lines.join('\n')).toMatch(/mean distance over all mapped tokens \d+\.\d{3}/);
    expect(lines.join('\n')).toMatch(/time: +\d+\.\d\d s/);
  });

  it('align prints both tokenisations, the DTW pairs, and which positions got the teacher', async () => {
    const text = 'dynamic programming approach to align tokens';
    const args = ['align', '--base', 'llama2', '--blend', 'gpt2', '--text', text, '--cache-dir', join(dir, 'cache')];
    const lines = await run(args, registerAlignCommand);
    const output = lines.join('\n');
    expect(output).toContain('base llama2 (receives), 6 tokens:');
    expect(output).toContain('blend gpt2 (sends), 7 tokens:');
    expect(output).toContain('blend[1] "ynamic" -> base[0] "▁dynamic"');
    expect(output).toContain('[0] "▁dynamic" <- several blend tokens: fallback next-token: one-hot "▁programming"');
    expect(output).toContain('[1] "▁programming" <- blend[2] "Ġprogramming": teacher (one-to-one, same token): top-1 "▁approach"');
    expect(output).toContain('[5] "▁tokens" <- blend[6] "Ġtokens": no teacher');
    expect(output).toContain('4 teacher, 1 fallback, 1 none, of 6 base positions');
  });

  it('align rejects an unknown fallback', async () => {
    const args = ['align', '--base', 'llama2', '--blend', 'gpt2', '--text', 'x', '--fallback', 'current', '--cache-dir', join(dir, 'cache')];
    await expect(run(args, registerAlignCommand)).rejects.toThrow(/--fallback current: expected one of next-token, none, reference/);
  });
});
