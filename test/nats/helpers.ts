import { spawn, type ChildProcess } from 'node:child_process';
import { findNatsServerBinary } from '../../core/nats/binary.js';
import type { NatsTransportLogger } from '../../core/transport/nats/logger.js';

/** Tests that need a real nats-server skip when none is installed (test/environment.ts says so at the end). */
export const natsServerAvailable = findNatsServerBinary() !== undefined;

export interface CapturedLog {
  logger: NatsTransportLogger;
  errors: string[];
  warnings: string[];
}

export function captureLog(): CapturedLog {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { logger: { error: (m) => errors.push(m), warn: (m) => warnings.push(m) }, errors, warnings };
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Deterministic bytes that differ at every position of a chunk (so a misplaced chunk is caught). */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** `fedmkt ARGS` in a child process (a deployment's process): its output so far, and its exit code once it ends. */
export function fedmktProcess(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number> } {
  let out = '';
  const child = spawn(process.execPath, ['bin/fedmkt.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return { child, output: () => out, exit };
}
