/**
 * A failing run as faults a person can read. Its "atoms" are the faults that could matter: each
 * fault the scenario scripts (a crash, a scripted dropout, a partition, a rule that always
 * applies), each draw of a random rule that applied, each fault an explorer added, and each
 * simultaneous-events order it changed. Shrinking keeps the fewest atoms that still fail; this
 * module turns those into ordinary `faults:` entries, each naming the one message or state entry
 * it hits (`nth`), plus the order choices, which only a schedule can say.
 */
import { Random } from '../core/random.js';
import { quietChoice, type MadeChoice, type ScheduledChoice } from '../core/schedule/choices.js';
import { crashParams, parseOption, type FaultSpace } from '../core/schedule/fault-space.js';
import type { Faults, MessageRule } from '../core/faults/schema.js';
import type { Scenario } from '../core/scenario/schema.js';

type ScriptedSection = 'crashes' | 'dropout.script' | 'partitions' | 'messages';

export type Atom = { kind: 'choice'; made: MadeChoice } | { kind: 'scripted'; section: ScriptedSection; index: number };

/** The atoms of a run of `scenario` that made these choices. */
export function atomsOf(scenario: Scenario, made: readonly MadeChoice[]): Atom[] {
  const f = scenario.faults;
  const scripted: Atom[] = [
    ...f.crashes.map((_, index) => ({ kind: 'scripted' as const, section: 'crashes' as const, index })),
    ...f.dropout.script.map((_, index) => ({ kind: 'scripted' as const, section: 'dropout.script' as const, index })),
    ...f.partitions.map((_, index) => ({ kind: 'scripted' as const, section: 'partitions' as const, index })),
    ...f.messages.flatMap((r, index) => (r.p >= 1 ? [{ kind: 'scripted' as const, section: 'messages' as const, index }] : [])),
  ];
  const choices: Atom[] = made.filter((m) => m.option !== quietChoice(m.point)).map((m) => ({ kind: 'choice', made: m }));
  return [...scripted, ...choices];
}

/** Whether an atom is a fault (an order choice is not). */
export const isFaultAtom = (a: Atom): boolean => a.kind === 'scripted' || a.made.point.kind !== 'order';

/** The choices among `atoms`, as a schedule lists them. */
export function choicesOf(atoms: readonly Atom[]): ScheduledChoice[] {
  return atoms.flatMap((a) => (a.kind === 'choice' ? [{ key: a.made.point.key, choice: a.made.point.options[a.made.option] as string }] : []));
}

/**
 * The scenario with only the scripted faults among `atoms`: the others removed (a rule that
 * always applies is switched off in place, so later rules keep their index and their keys).
 */
export function withScripted(scenario: Scenario, atoms: readonly Atom[]): Scenario {
  const keep = (section: ScriptedSection) => new Set(atoms.flatMap((a) => (a.kind === 'scripted' && a.section === section ? [a.index] : [])));
  const crashes = keep('crashes');
  const script = keep('dropout.script');
  const partitions = keep('partitions');
  const rules = keep('messages');
  const f = scenario.faults;
  const faults: Faults = {
    ...f,
    crashes: f.crashes.filter((_, i) => crashes.has(i)),
    dropout: { ...f.dropout, script: f.dropout.script.filter((_, i) => script.has(i)) },
    partitions: f.partitions.filter((_, i) => partitions.has(i)),
    messages: f.messages.map((r, i) => (r.p >= 1 && !rules.has(i) ? { ...r, p: 0 } : r)),
  };
  return { ...scenario, faults };
}

/** A fault entry without its defaults, as a person would write it. */
type Entry = Record<string, unknown>;

export interface ReadableFaults {
  /** The scenario's `faults:` section, as YAML-ready data. */
  faults: Entry;
  /** Order choices, which no fault entry can say. */
  order: ScheduledChoice[];
  /** One line per fault, for the failure's description. */
  lines: string[];
}

/** The kept atoms as ordinary fault entries. */
export function readableFaults(scenario: Scenario, atoms: readonly Atom[], space: FaultSpace | null): ReadableFaults {
  const f = scenario.faults;
  const messages: { order: number; rule: Entry }[] = [];
  const crashes: Entry[] = [];
  const script: Entry[] = [];
  const partitions: Entry[] = [];
  const order: ScheduledChoice[] = [];
  const lines: string[] = [];
  for (const a of atoms) {
    if (a.kind === 'scripted') {
      const entry = scriptedEntry(f, a);
      if (a.section === 'crashes') crashes.push(entry);
      if (a.section === 'dropout.script') script.push(entry);
      if (a.section === 'partitions') partitions.push(entry);
      if (a.section === 'messages') messages.push({ order: a.index, rule: entry });
      lines.push(`scenario ${a.section}[${a.index}]: ${JSON.stringify(entry)}`);
      continue;
    }
    const { point, option } = a.made;
    const name = point.options[option] as string;
    if (point.kind === 'order') {
      order.push({ key: point.key, choice: name });
      lines.push(`at ${point.key.slice(6, point.key.indexOf(':'))} ms, ${name} goes first among ${point.options.join(', ')}`);
      continue;
    }
    if (point.kind === 'message' || (point.kind === 'rule' && point.message)) {
      const rule = point.kind === 'message' ? addedMessageFault(name, space) : ruleApplied(scenario, point.key);
      const m = point.message as NonNullable<typeof point.message>;
      const entry: Entry = { ...rule.entry, type: m.type, from: m.from, to: point.actor, round: m.round, nth: m.nth };
      messages.push({ order: point.kind === 'message' ? Number.MAX_SAFE_INTEGER : rule.index, rule: entry });
      lines.push(`${rule.entry.action} the ${ordinal(m.nth)} ${m.type} of round ${m.round} from ${m.from} to ${point.actor}${describeParams(rule.entry)}`);
      continue;
    }
    const { kind, param } = point.kind === 'rule' ? { kind: 'dropout' as const, param: 'rule' } : parseOption(name);
    const nth = Number(point.key.slice(point.key.lastIndexOf('#') + 1)) || 1;
    const at = { round: point.round, state: point.state, ...(nth > 1 ? { nth } : {}) };
    if (kind === 'crash') {
      const { restartAfterMs, afterMs } = crashParams(param);
      crashes.push({ actor: point.actor, ...at, ...(afterMs > 0 ? { afterMs } : {}), restartAfterMs });
      const when = afterMs > 0 ? `${afterMs} ms after it enters` : 'as it enters';
      lines.push(
        `crash ${point.actor} ${when} ${point.state} in round ${point.round}${restartAfterMs === 'never' ? ', for good' : `, restart after ${restartAfterMs} ms`}`,
      );
    } else if (kind === 'dropout') {
      const rejoin = param === 'rule' ? (point.round as number) + f.dropout.rejoinAfterRounds : param === 'never' ? undefined : (point.round as number) + 1;
      script.push({ client: point.actor, ...at, ...(rejoin !== undefined ? { rejoinRound: rejoin } : {}) });
      lines.push(
        `${point.actor} drops out as it enters ${point.state} in round ${point.round}${rejoin !== undefined ? `, rejoins when round ${rejoin} opens` : ', for good'}`,
      );
    } else if (kind === 'partition') {
      const t = point.t as number;
      partitions.push({ actors: [point.actor], fromMs: t, toMs: t + Number(param) });
      lines.push(`${point.actor} cut off from everyone from ${t} to ${t + Number(param)} ms (as it enters ${point.state} in round ${point.round})`);
    }
  }
  const faults: Entry = {};
  if (messages.length) faults.messages = messages.sort((x, y) => x.order - y.order).map((m) => m.rule);
  if (partitions.length) faults.partitions = partitions;
  if (crashes.length) faults.crashes = crashes;
  if (script.length) faults.dropout = { script };
  if (f.stragglers) faults.stragglers = f.stragglers;
  if (f.persist !== 'memory') faults.persist = f.persist;
  return { faults, order, lines };
}

function scriptedEntry(f: Faults, a: Extract<Atom, { kind: 'scripted' }>): Entry {
  switch (a.section) {
    case 'crashes':
      return withoutDefaults({ ...f.crashes[a.index] }, { afterMs: 0, restartAfterMs: 1000, nth: 1 });
    case 'dropout.script':
      return withoutDefaults({ ...f.dropout.script[a.index] }, { state: 'trainPrivate', nth: 1 });
    case 'partitions':
      return { ...f.partitions[a.index] };
    case 'messages':
      return withoutDefaults({ ...f.messages[a.index] }, { p: 1 });
  }
}

/** A random rule's application to one message, with the amounts its draw gave (`rule:messages[i]:<id>><receiver>`). */
function ruleApplied(scenario: Scenario, key: string): { index: number; entry: Entry } {
  const m = /^rule:messages\[(\d+)\]:(.+)>([^>]+)$/.exec(key);
  if (!m) throw new Error(`reproducer: not a message rule's draw: ${key}`);
  const index = Number(m[1]);
  const rule = scenario.faults.messages[index] as MessageRule;
  const rng = Random.stream(scenario.seed, `faults/messages/${index}/${m[2]}/${m[3]}`);
  rng.next(); // the draw against p
  switch (rule.action) {
    case 'delay':
      return { index, entry: { action: 'delay', ms: (rule.ms ?? 0) + (rule.jitterMs ? rng.next() * rule.jitterMs : 0) } };
    case 'duplicate':
      return { index, entry: { action: 'duplicate', ...(rule.copies ? { copies: rule.copies } : {}), ...(rule.gapMs ? { gapMs: rule.gapMs } : {}) } };
    case 'reorder':
      return { index, entry: { action: 'reorder', ...(rule.maxHoldMs !== undefined ? { maxHoldMs: rule.maxHoldMs } : {}) } };
    case 'corrupt':
      return { index, entry: { action: 'corrupt', ...(rule.bytes ? { bytes: rule.bytes } : {}) } };
    case 'drop':
      return { index, entry: { action: 'drop' } };
  }
}

function addedMessageFault(option: string, space: FaultSpace | null): { index: number; entry: Entry } {
  const { kind, param } = parseOption(option);
  const s = space;
  const entry: Entry =
    kind === 'delay'
      ? { action: 'delay', ms: Number(param) }
      : kind === 'duplicate'
        ? { action: 'duplicate', copies: 1, gapMs: s?.duplicateGapMs ?? 100 }
        : kind === 'reorder'
          ? { action: 'reorder', maxHoldMs: s?.reorderHoldMs ?? 60_000 }
          : kind === 'corrupt'
            ? { action: 'corrupt', bytes: s?.corruptBytes ?? 2 }
            : { action: 'drop' };
  return { index: Number.MAX_SAFE_INTEGER, entry };
}

function withoutDefaults(entry: Entry, defaults: Entry): Entry {
  for (const [k, v] of Object.entries(defaults)) if (entry[k] === v) delete entry[k];
  return entry;
}

function describeParams(e: Entry): string {
  if (e.action === 'delay') return ` by ${Math.round(Number(e.ms))} ms`;
  if (e.action === 'reorder') return ` (held until the receiver's next message)`;
  if (e.action === 'duplicate') return ` (one copy)`;
  return '';
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${s}`;
}
