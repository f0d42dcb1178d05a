/**
 * A run's state as text, for telling states apart during exhaustive exploration. Payload
 * arrays (logits, adapters) stand in by their length: what the protocol does next depends on
 * which messages an actor holds (their ids are in the context), not on the numbers in them.
 */
export function stateText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (ArrayBuffer.isView(v) ? `#${(v as { length?: number }).length ?? v.byteLength}` : v));
}

/** FNV-1a 64-bit (as two 32-bit halves) of a string: a compact key for a visited-state set. */
export function digestOf(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}
