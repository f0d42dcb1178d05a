/**
 * The faults an explorer may add at each choice point: at a message's delivery to a receiver
 * (drop, delay, duplicate, reorder, corrupt) and at an actor's entry into a state (crash and
 * restart, dropout and rejoin, a partition cutting it off). Their parameters come from the
 * scenario's own deadlines, so a delay or a partition is short, or long enough to miss one.
 */

export const FAULT_KINDS = ['dropout', 'crash', 'drop', 'delay', 'duplicate', 'reorder', 'corrupt', 'partition'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpace {
  kinds: ReadonlySet<FaultKind>;
  /** Delay options (ms), each past the previous. */
  delaysMs: readonly number[];
  /** Restart delays after a crash; `never` keeps the actor down. */
  restarts: readonly (number | 'never')[];
  /** When, after entering its state, an actor crashes: at once (as it entered it), or after some of its messages came. */
  crashAfterMs: readonly number[];
  /** How long an added partition cuts an actor off. */
  partitionsMs: readonly number[];
  /** Reorder: the longest a held message waits for the receiver's next one. */
  reorderHoldMs: number;
  /** Duplicate: the gap before the copy. */
  duplicateGapMs: number;
  /** Corrupt: bytes flipped. */
  corruptBytes: number;
}

/** The deadlines a fault space is sized from (scenario `protocol`). */
export interface Deadlines {
  uploadMs: number;
  llmLogitsMs: number;
}

export function faultSpace(deadlines: Deadlines, kinds: Iterable<FaultKind> = FAULT_KINDS): FaultSpace {
  const long = Math.max(deadlines.uploadMs, deadlines.llmLogitsMs);
  const short = Math.max(1, Math.min(1000, Math.round(deadlines.uploadMs / 10)));
  return {
    kinds: new Set(kinds),
    delaysMs: [short, deadlines.uploadMs],
    restarts: [1000, 'never'],
    crashAfterMs: [0, short],
    partitionsMs: [short, long],
    reorderHoldMs: long,
    duplicateGapMs: 100,
    corruptBytes: 2,
  };
}

/** Parse `--faults drop,delay,...`. */
export function parseFaultKinds(list: string, where: string): FaultKind[] {
  const kinds = list
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  if (kinds.length === 0) throw new Error(`${where}: expected fault kinds (${FAULT_KINDS.join(', ')})`);
  for (const k of kinds)
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new Error(`${where}: unknown fault kind "${k}" (known: ${FAULT_KINDS.join(', ')})`);
  return kinds as FaultKind[];
}

/** Options at a message's delivery to one receiver: `none` first. */
export function messageOptions(space: FaultSpace): string[] {
  const out = ['none'];
  if (space.kinds.has('drop')) out.push('drop');
  if (space.kinds.has('delay')) out.push(...space.delaysMs.map((ms) => `delay:${ms}`));
  if (space.kinds.has('duplicate')) out.push('duplicate');
  if (space.kinds.has('reorder')) out.push('reorder');
  if (space.kinds.has('corrupt')) out.push('corrupt');
  return out;
}

/** Options as an actor enters a state: `none` first; clients may also drop out. */
export function actorOptions(space: FaultSpace, role: 'server' | 'client'): string[] {
  const out = ['none'];
  if (space.kinds.has('crash'))
    for (const after of space.crashAfterMs) out.push(...space.restarts.map((r) => (after > 0 ? `crash:${r}@${after}` : `crash:${r}`)));
  if (role === 'client' && space.kinds.has('dropout')) out.push('dropout:rejoin', 'dropout:never');
  if (space.kinds.has('partition')) out.push(...space.partitionsMs.map((ms) => `partition:${ms}`));
  return out;
}

/** A crash option's restart delay and how long after entering the state it happens (`crash:1000@500`). */
export function crashParams(param: string | undefined): { restartAfterMs: number | 'never'; afterMs: number } {
  const [restart, after] = (param ?? '').split('@');
  return { restartAfterMs: restart === 'never' ? 'never' : Number(restart), afterMs: after === undefined ? 0 : Number(after) };
}

/** An option name split into its fault kind and parameter (`delay:30000` -> delay, 30000). */
export function parseOption(option: string): { kind: FaultKind | 'none'; param: string | undefined } {
  const [kind, param] = option.split(':') as [string, string | undefined];
  if (kind === 'none' || (FAULT_KINDS as readonly string[]).includes(kind)) return { kind: kind as FaultKind | 'none', param };
  throw new Error(`unknown fault option "${option}"`);
}
