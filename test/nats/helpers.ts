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
