/**
 * What an explored run must satisfy: the protocol invariants always (core/invariants), that it
 * ends, and the properties a user states with `--expect`:
 *
 *   completed                 every round completes (none skipped, the server ends done) and
 *                             every actor that is up at the end ends done
 *   accuracy.<actor> >= X     the actor's accuracy after its last round (also > < <=)
 *   skippedRounds <= N        rounds the server skipped for want of a quorum (also < > >=)
 *
 * A finding names the property, the round and the actors; its signature (ids and numbers
 * blanked) tells distinct failures apart.
 */

type Comparison = '>=' | '>' | '<=' | '<';

export type Property =
  | { kind: 'completed'; text: string }
  | { kind: 'accuracy'; text: string; actor: string; op: Comparison; value: number }
  | { kind: 'skippedRounds'; text: string; op: Comparison; value: number };

export interface Finding {
  /** `invariant:<name>`, `ends`, or the property as the user wrote it. */
  property: string;
  message: string;
  round: number | null;
  actors: string[];
}

/** What a finished (or cut off) run says about itself. */
export interface RunFacts {
  events: readonly { t: number; actor: string; round: number; kind: string; [k: string]: unknown }[];
  metrics: readonly { round: number; actor: string; accuracy: number | null }[];
  finalStates: Readonly<Record<string, string>>;
  violations: readonly { invariant: string; message: string; events: readonly { actor: string; round: number }[] }[];
  /** The run had not ended when it was cut off (it never ends). */
  timedOut: boolean;
  /** Actors still running then, and where. */
  failures: Readonly<Record<string, string>>;
}

const COMPARISON = /^(>=|<=|>|<)$/;

export function parseProperty(text: string): Property {
  const t = text.trim();
  if (t === 'completed') return { kind: 'completed', text: t };
  const m = /^([A-Za-z]+)(?:\.([A-Za-z][A-Za-z0-9_-]*))?\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)$/.exec(t);
  if (!m) throw new Error(`--expect "${text}": expected completed, 'accuracy.<actor> >= X' or 'skippedRounds <= N'`);
  const [, name, actor, op, value] = m as unknown as [string, string, string | undefined, Comparison, string];
  if (!COMPARISON.test(op)) throw new Error(`--expect "${text}": unknown comparison ${op}`);
  if (name === 'accuracy') {
    if (!actor) throw new Error(`--expect "${text}": name the actor, e.g. accuracy.server >= 0.5`);
    return { kind: 'accuracy', text: t, actor, op, value: Number(value) };
  }
  if (name === 'skippedRounds' && !actor) return { kind: 'skippedRounds', text: t, op, value: Number(value) };
  throw new Error(`--expect "${text}": unknown property ${name}${actor ? `.${actor}` : ''} (expected completed, accuracy.<actor> or skippedRounds)`);
}

const holds = (x: number, op: Comparison, y: number) => (op === '>=' ? x >= y : op === '>' ? x > y : op === '<=' ? x <= y : x < y);

/** Every way the run breaks the invariants, fails to end, or breaks a stated property. */
export function checkRun(facts: RunFacts, properties: readonly Property[]): Finding[] {
  const findings: Finding[] = facts.violations.map((v) => ({
    property: `invariant:${v.invariant}`,
    message: v.message,
    round: v.events.length > 0 ? Math.max(...v.events.map((e) => e.round)) : null,
    actors: [...new Set(v.events.map((e) => e.actor))].sort(),
  }));
  if (facts.timedOut) {
    const stuck = Object.entries(facts.failures);
    findings.push({
      property: 'ends',
      message: `the run never ended: ${stuck.map(([a, why]) => `${a} ${why}`).join('; ') || 'events kept coming'}`,
      round: lastRound(facts),
      actors: stuck.map(([a]) => a).sort(),
    });
  }
  for (const p of properties) findings.push(...check(p, facts));
  return findings;
}

function check(p: Property, facts: RunFacts): Finding[] {
  switch (p.kind) {
    case 'completed': {
      const out: Finding[] = [];
      const skipped = facts.events.filter((e) => e.kind === 'quorum' && e.outcome === 'skip-round').map((e) => e.round);
      if (skipped.length > 0)
        out.push({
          property: p.text,
          message: `round${skipped.length > 1 ? 's' : ''} ${skipped.join(', ')} skipped for want of a quorum`,
          round: skipped[0] as number,
          actors: ['server'],
        });
      const notDone = Object.entries(facts.finalStates).filter(([, s]) => s !== 'done' && !s.startsWith('offline'));
      if (notDone.length > 0)
        out.push({
          property: p.text,
          message: `not done at the end: ${notDone.map(([a, s]) => `${a} (${s})`).join(', ')}`,
          round: lastRound(facts),
          actors: notDone.map(([a]) => a).sort(),
        });
      return out;
    }
    case 'accuracy': {
      const rows = facts.metrics.filter((m) => m.actor === p.actor && m.accuracy !== null);
      const last = rows[rows.length - 1];
      if (!last) return [{ property: p.text, message: `${p.actor} has no accuracy measured`, round: null, actors: [p.actor] }];
      const acc = last.accuracy as number;
      return holds(acc, p.op, p.value)
        ? []
        : [{ property: p.text, message: `accuracy of ${p.actor} after round ${last.round} is ${acc.toFixed(3)}`, round: last.round, actors: [p.actor] }];
    }
    case 'skippedRounds': {
      const skipped = facts.events.filter((e) => e.kind === 'quorum' && e.outcome === 'skip-round').map((e) => e.round);
      return holds(skipped.length, p.op, p.value)
        ? []
        : [
            {
              property: p.text,
              message: `${skipped.length} round${skipped.length === 1 ? '' : 's'} skipped (${skipped.join(', ') || 'none'})`,
              round: skipped[skipped.length - 1] ?? null,
              actors: ['server'],
            },
          ];
    }
  }
}

function lastRound(facts: RunFacts): number | null {
  let r: number | null = null;
  for (const e of facts.events) if (e.kind === 'state' && (r === null || e.round > r)) r = e.round;
  return r;
}

/** What tells distinct failures apart: the property and its message with ids, numbers and times blanked. */
export function signatureOf(f: Finding): string {
  let message = f.message.replace(/\b[A-Za-z][\w-]*:\d+\b/g, '<id>');
  // The same failure at another client is the same failure.
  for (const actor of f.actors) if (actor !== 'server') message = message.replace(new RegExp(`\\b${actor}\\b`, 'g'), '<client>');
  return `${f.property} ${message.replace(/-?\d+(\.\d+)?/g, '<n>')}`;
}

/** One finding as a line. */
export function formatFinding(f: Finding): string {
  return `[${f.property}] ${f.message}${f.round !== null ? ` (round ${f.round}` : ' ('}${f.actors.length ? `${f.round !== null ? '; ' : ''}${f.actors.join(', ')}` : ''})`;
}
