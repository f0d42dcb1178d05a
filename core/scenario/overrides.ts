/**
 * Changes to a scenario document from the command line (`--seed`, `--rounds`, `--set path=v`),
 * applied before validation, each remembering the flag it came from so that a problem it causes
 * is reported against the flag rather than against a line of the file.
 */

export interface ScenarioOverride {
  /** Dotted path into the document: `rounds`, `faults.dropout.p`, `clients.0.profile.latencyMs`. */
  path: string;
  value: unknown;
  /** How the user wrote it (`--rounds 0`), for messages. */
  flag?: string;
}

/** The path of an override as the validator's path keys (list indices as numbers). */
function overrideKeys(path: string): (string | number)[] {
  return path.split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key));
}

/** A copy of the document with `path` set to `value` (missing maps are created). */
export function setPath(doc: unknown, path: string, value: unknown): unknown {
  const keys = path.split('.');
  const root: Record<string, unknown> = doc !== null && typeof doc === 'object' ? structuredClone(doc as Record<string, unknown>) : {};
  let cur: Record<string | number, unknown> = root;
  keys.forEach((key, i) => {
    const k: string | number = Array.isArray(cur) && /^\d+$/.test(key) ? Number(key) : key;
    if (i === keys.length - 1) {
      cur[k] = value;
      return;
    }
    let next = cur[k];
    if (next === null || typeof next !== 'object') {
      next = {};
      cur[k] = next;
    }
    cur = next as Record<string | number, unknown>;
  });
  return root;
}

export function applyOverrides(doc: unknown, overrides: readonly ScenarioOverride[]): unknown {
  return overrides.reduce((d, o) => setPath(d, o.path, o.value), doc);
}

/** The flag of the override that a problem at `path` comes from: the override's path and the problem's lie on one branch. */
export function flagOf(path: readonly PropertyKey[], overrides: readonly ScenarioOverride[]): string | undefined {
  for (const o of overrides) {
    const keys = overrideKeys(o.path);
    const n = Math.min(keys.length, path.length);
    if (n > 0 && keys.slice(0, n).every((k, i) => k === path[i])) return o.flag ?? `${o.path}=${JSON.stringify(o.value)}`;
  }
  return undefined;
}

/** A scripted fault (a crash or a dropout) that names a round. */
export interface ScriptedFault {
  /** `faults.crashes[0]`. */
  path: string;
  round: number;
  what: string;
}

const records = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object') : [];

function faultsOf(doc: unknown): Record<string, unknown> {
  const faults = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>).faults : undefined;
  return faults !== null && typeof faults === 'object' ? (faults as Record<string, unknown>) : {};
}

function dropoutOf(doc: unknown): Record<string, unknown> {
  const dropout = faultsOf(doc).dropout;
  return dropout !== null && typeof dropout === 'object' ? (dropout as Record<string, unknown>) : {};
}

/** The scripted faults of a document that name a round after `rounds`. */
export function scriptedFaultsAfter(doc: unknown, rounds: number): ScriptedFault[] {
  const out: ScriptedFault[] = [];
  records(faultsOf(doc).crashes).forEach((c, i) => {
    if (typeof c.round === 'number' && c.round > rounds)
      out.push({ path: `faults.crashes[${i}]`, round: c.round, what: `${String(c.actor)} crashes in round ${c.round}` });
  });
  records(dropoutOf(doc).script).forEach((d, i) => {
    if (typeof d.round === 'number' && d.round > rounds)
      out.push({ path: `faults.dropout.script[${i}]`, round: d.round, what: `${String(d.client)} drops out in round ${d.round}` });
  });
  return out;
}

/** The document without its scripted faults after `rounds`. */
export function withoutScriptedFaultsAfter(doc: unknown, rounds: number): unknown {
  const late = (entry: Record<string, unknown>) => typeof entry.round === 'number' && entry.round > rounds;
  let out = doc;
  const crashes = faultsOf(doc).crashes;
  if (Array.isArray(crashes))
    out = setPath(
      out,
      'faults.crashes',
      records(crashes).filter((c) => !late(c)),
    );
  const script = dropoutOf(doc).script;
  if (Array.isArray(script))
    out = setPath(
      out,
      'faults.dropout.script',
      records(script).filter((d) => !late(d)),
    );
  return out;
}
