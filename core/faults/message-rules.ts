/**
 * What the message faults do to one message on its way to one receiver: the scenario's rules in
 * file order (each matching rule with its own draw against `p`), then the fault the explorer
 * adds, if it is exploring. Every random draw is a `rule` choice of the run's scheduler (its
 * scenario choice drawn from `Random.stream(seed, 'faults/messages/<rule>/<message id>/<receiver>')`,
 * so decisions do not depend on the order in which they are taken), every added fault a
 * `message` choice: a schedule replays both.
 */
import { Random } from '../random.js';
import { scenarioScheduler, type Scheduler } from '../schedule/choices.js';
import { messageOptions, parseOption, type FaultSpace } from '../schedule/fault-space.js';
import { roundMatches, type MessageRule } from './schema.js';

/** A message as the rules see it. */
export interface MessageMeta {
  subject: string;
  type: string;
  round: number;
  sender: string;
  /** Envelope id when the publish was seen here, else a subject-based key. */
  id: string;
  senderEpoch: number | null;
}

/** Where a message goes: dropped (why), or delivered after `delayMs`, possibly altered, copied or held back. */
export type Fate =
  | { dropped: string }
  | {
      dropped: null;
      delayMs: number;
      copies: number;
      gapMs: number;
      /** Reorder: wait for the receiver's next message, at most this long. */
      holdMs: number | null;
      /** The bytes to deliver (a corrupted copy, or the message's own). */
      data: Uint8Array;
    };

export type FaultRecord = (kind: string, detail: Record<string, unknown>) => void;

const asList = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

interface CompiledRule {
  rule: MessageRule;
  types?: string[];
  from?: string[];
  to?: string[];
  states?: string[];
  /** Messages the selectors matched so far (for `nth`). */
  matched: number;
  /** Times applied so far (for `limit`). */
  uses: number;
}

export class MessageRules {
  private readonly rules: CompiledRule[];
  private readonly explore: string[] | null;
  /** Messages seen per (type, sender, receiver, round). */
  private readonly seen = new Map<string, number>();

  constructor(
    rules: readonly MessageRule[],
    private readonly seed: number,
    private readonly scheduler: Scheduler = scenarioScheduler,
    private readonly space: FaultSpace | null = null,
  ) {
    this.rules = rules.map((rule) => ({
      rule,
      types: asList(rule.type),
      from: asList(rule.from),
      to: asList(rule.to),
      states: asList(rule.state),
      matched: 0,
      uses: 0,
    }));
    this.explore = space ? messageOptions(space) : null;
  }

  /** Times each rule has applied: part of a run's state. */
  digest(): string {
    return this.rules.map((r) => `${r.matched}/${r.uses}`).join(',');
  }

  fate(meta: MessageMeta, receiver: string, receiverState: { state: string; round: number } | undefined, data: Uint8Array, record: FaultRecord): Fate {
    const fate: Extract<Fate, { dropped: null }> = { dropped: null, delayMs: 0, copies: 0, gapMs: 0, holdMs: null, data };
    const at = { actor: receiver, ...(receiverState ?? {}) };
    // Every rule counts the messages it matches before any applies, so a rule's `nth` does not
    // depend on what an earlier rule did to the message.
    const matching = this.rules.map((r) => this.matches(r, meta, receiver, receiverState?.state) && ++r.matched > 0);
    // Which message of its kind this is, for a rule that names it: `{ type, from, to, round, nth }`.
    const kindKey = `${meta.type}|${meta.sender}|${receiver}|${meta.round}`;
    const nth = (this.seen.get(kindKey) ?? 0) + 1;
    this.seen.set(kindKey, nth);
    const message = { type: meta.type, from: meta.sender, round: meta.round, nth };
    for (const [i, r] of this.rules.entries()) {
      const { rule } = r;
      if (!matching[i]) continue;
      if (rule.nth !== undefined && r.matched !== rule.nth) continue;
      if (rule.limit !== undefined && r.uses >= rule.limit) continue;
      const rng = Random.stream(this.seed, `faults/messages/${i}/${meta.id}/${receiver}`);
      if (rule.p < 1) {
        const drawn = rng.next() < rule.p ? 1 : 0;
        const key = `rule:messages[${i}]:${meta.id}>${receiver}`;
        if (
          this.scheduler.choose({ key, kind: 'rule', options: ['skip', 'apply'], scenarioChoice: drawn, weights: [1 - rule.p, rule.p], message, ...at }) === 0
        )
          continue;
      }
      r.uses++;
      const cause = `messages[${i}]`;
      if (rule.action === 'drop') {
        record('drop', { cause });
        return { dropped: cause };
      }
      const param = rule.action === 'delay' ? (rule.ms ?? 0) + (rule.jitterMs ? rng.next() * rule.jitterMs : 0) : undefined;
      apply(
        fate,
        rule.action,
        { ms: param, copies: rule.copies ?? 1, gapMs: rule.gapMs ?? 0, holdMs: rule.maxHoldMs ?? 60_000, bytes: rule.bytes ?? 1, rng, cause },
        record,
      );
    }
    if (this.explore && this.space) {
      const option = this.explore[
        this.scheduler.choose({ key: `msg:${meta.id}>${receiver}`, kind: 'message', options: this.explore, scenarioChoice: 0, message, ...at })
      ] as string;
      const { kind, param } = parseOption(option);
      if (kind === 'drop') {
        record('drop', { cause: 'explore' });
        return { dropped: 'explore' };
      }
      if (kind !== 'none') {
        const s = this.space;
        const rng = Random.stream(this.seed, `faults/explore/${meta.id}/${receiver}`);
        apply(
          fate,
          kind,
          { ms: Number(param), copies: 1, gapMs: s.duplicateGapMs, holdMs: s.reorderHoldMs, bytes: s.corruptBytes, rng, cause: 'explore' },
          record,
        );
      }
    }
    return fate;
  }

  private matches(r: CompiledRule, meta: MessageMeta, receiver: string, state: string | undefined): boolean {
    if (r.types && !r.types.includes(meta.type)) return false;
    if (r.from && !r.from.includes(meta.sender)) return false;
    if (r.to && !r.to.includes(receiver)) return false;
    if (!roundMatches(r.rule.round, meta.round)) return false;
    if (r.states && (state === undefined || !r.states.includes(state))) return false;
    return true;
  }
}

function apply(
  fate: Extract<Fate, { dropped: null }>,
  action: string,
  p: { ms: number | undefined; copies: number; gapMs: number; holdMs: number; bytes: number; rng: Random; cause: string },
  record: FaultRecord,
): void {
  switch (action) {
    case 'delay':
      fate.delayMs += p.ms ?? 0;
      record('delay', { cause: p.cause, ms: p.ms });
      return;
    case 'duplicate':
      fate.copies += p.copies;
      fate.gapMs = p.gapMs;
      record('duplicate', { cause: p.cause, copies: p.copies, gapMs: p.gapMs });
      return;
    case 'corrupt': {
      const flipped = corrupt(fate.data, p.bytes, p.rng);
      fate.data = flipped.data;
      record('corrupt', { cause: p.cause, positions: flipped.positions });
      return;
    }
    case 'reorder':
      fate.holdMs = p.holdMs;
      record('reorder', { cause: p.cause, maxHoldMs: p.holdMs });
      return;
  }
}

/** A copy of `data` with `count` bytes XOR-ed with non-zero values at seeded positions. */
function corrupt(data: Uint8Array, count: number, rng: Random): { data: Uint8Array; positions: number[] } {
  const out = new Uint8Array(data);
  const positions: number[] = [];
  for (let i = 0; i < count && out.length > 0; i++) {
    const at = rng.int(out.length);
    out[at] = (out[at] as number) ^ (1 + rng.int(255));
    positions.push(at);
  }
  return { data: out, positions };
}
