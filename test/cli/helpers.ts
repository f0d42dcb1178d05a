import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { main } from '../../cli/program.js';

/** The repository root, where bin/fedmkt.js is. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'fedmkt.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `fedmkt ARGS` as a user runs it (bin/fedmkt.js), in `cwd`. */
export function fedmkt(args: readonly string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `fedmkt ARGS` in the background: its process, and its output so far. */
export function startFedmkt(args: readonly string[], cwd = ROOT): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

/**
 * `fedmkt ARGS` in this process (cli/program.ts, as bin/fedmkt.js runs it, without starting a
 * process): for commands that end before any work, such as usage errors and refused input.
 */
export async function fedmktHere(args: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const failed = await main(['node', 'fedmkt', ...args]);
    const status = failed ?? Number(process.exitCode ?? 0);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
    process.exitCode = undefined;
  }
}
