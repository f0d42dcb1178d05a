import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { tinyScenario } from '../federation/tiny-scenario.js';

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join('node_modules', 'tsx', 'dist', 'cli.mjs'), join('cli', 'main.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('fedmkt run --ui', () => {
  it('serves the live view during the run, prints its URL, and with --ui-exit closes it at the end; --inspect without the package is skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-live-cli-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, stringify(tinyScenario()));
    const out = join(dir, 'run');
    const { code, stderr, stdout } = await runCli(['run', file, '--ui-exit', '--inspect', '--quiet', '--workers', '0', '--out', out]);
    expect(stderr).toMatch(/\[fedmkt\] live view: http:\/\/127\.0\.0\.1:\d+\//);
    if (!existsSync(join('node_modules', '@statelyai', 'inspect'))) expect(stderr).toMatch(/@statelyai\/inspect is not installed.*skipped/);
    expect(stdout).toMatch(/final states: server=done c1=done c2=done c3=done/);
    expect(stderr).not.toMatch(/press Ctrl-C/);
    expect(code).toBe(0);
    expect(existsSync(join(out, 'events.jsonl'))).toBe(true);
  }, 60_000);
});
