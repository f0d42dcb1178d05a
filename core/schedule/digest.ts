import { createHash } from 'node:crypto';

/**
 * A run's state as text, for telling states apart during exhaustive exploration. Payload
 * arrays (logits, adapters) stand in by their length: what the protocol does next depends on
 * which messages an actor holds (their ids are in the context), not on the numbers in them.
 */
export function stateText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (ArrayBuffer.isView(v) ? `#${(v as { length?: number }).length ?? v.byteLength}` : v));
}

/**
 * A compact key for a visited-state set: 128 bits of SHA-256 (node:crypto), so that two states
 * sharing a key, which would prune a schedule the search never ran, is out of the question even
 * over hundreds of millions of states.
 */
export function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}
