import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { didYouMean } from '../suggest.js';
import { plural } from '../wording.js';
import { applyOverrides, flagOf, scriptedFaultsAfter, withoutScriptedFaultsAfter, type ScenarioOverride } from './overrides.js';
import { referenceProblems } from './references.js';
import { ScenarioSchema, type Scenario } from './schema.js';
import { knownKeysAt } from './schema-keys.js';

/** One thing wrong with a scenario file, with where it is. */
export interface ScenarioProblem {
  /** `clients[2].protocol.topK` style path; empty for the document itself. */
  path: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** The command-line flag the problem comes from (`--rounds 0`); then no line is given. */
  flag?: string;
  message: string;
}

/** How a scenario file is read: command-line changes, and what to do about what they leave out. */
export interface LoadOptions {
  overrides?: readonly ScenarioOverride[];
  /** A `rounds` override shorter than the fault script: leave out the scripted faults after it instead of failing. */
  dropLateFaults?: boolean;
  /** Told what was left out. */
  onNote?: (line: string) => void;
  /**
   * Whether the files the scenario names (datasets, corpora, traces, tokenizer folders) must be
   * on this machine: true (the default) where actors run, false for commands that run none
   * (`nats-config`, `watch`). Names are checked either way.
   */
  filesHere?: boolean;
  /** Handed the document as it is validated (overrides applied): what a tool writing a variant of the file starts from. */
  onDocument?: (doc: Record<string, unknown>) => void;
}

/** The flag that leaves out scripted faults after a shortened run's last round. */
export const DROP_LATE_FAULTS_FLAG = '--drop-late-faults';

function formatProblem(p: ScenarioProblem): string {
  const where = p.flag !== undefined ? `${p.flag}: ` : p.line !== undefined ? `line ${p.line}: ` : '';
  return `  ${where}${p.path || '(document)'}: ${p.message}`;
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ScenarioProblem[],
  ) {
    super([`${file}: ${plural(problems.length, 'problem')}`, ...problems.map(formatProblem)].join('\n'));
    this.name = 'ScenarioError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Parse and validate scenario text; throws {@link ScenarioError} listing every problem. */
export function parseScenario(text: string, file = '<scenario>', options: LoadOptions = {}): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({ path: '', line: lineCounter.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const overrides = options.overrides ?? [];
  const lateFaults = shortenedScript(doc.toJS(), overrides);
  let raw = applyOverrides(doc.toJS(), overrides);
  if (lateFaults && options.dropLateFaults) {
    raw = withoutScriptedFaultsAfter(raw, lateFaults.rounds);
    options.onNote?.(`${lateFaults.flag}: left out ${lateFaults.list}`);
  }
  const line = (path: readonly PropertyKey[]) => lineOf(doc.contents, path, lineCounter);
  if (raw !== null && typeof raw === 'object') options.onDocument?.(raw as Record<string, unknown>);
  const result = ScenarioSchema.safeParse(raw);
  const problems = result.success ? [] : describeIssues(result.error.issues, raw, line);
  const reported = (path: string) => problems.some((p) => p.path === path || path.startsWith(`${p.path}.`) || path.startsWith(`${p.path}[`));
  for (const p of referenceProblems(raw, options.filesHere ?? true)) {
    const path = formatPath(p.path);
    if (!reported(path)) problems.push({ path, keys: p.path, line: line(p.path), message: p.message });
  }
  const located = problems.map((p) => locate(p, overrides));
  if (lateFaults && !options.dropLateFaults) {
    // The faults' own "after the last round" problems say the same thing against the file's lines.
    const kept = located.filter((p) => !lateFaults.paths.some((f) => p.path.startsWith(f)));
    kept.unshift({
      path: 'rounds',
      flag: lateFaults.flag,
      message: `the fault script names later rounds: ${lateFaults.list}; add ${DROP_LATE_FAULTS_FLAG} to run without them`,
    });
    throw new ScenarioError(file, kept);
  }
  if (located.length > 0) throw new ScenarioError(file, located.sort(byPlace));
  if (!result.success) throw new Error('scenario: invalid, yet no problem described');
  return result.data;
}

/** Scripted faults after the last round that a `rounds` override (from a flag) sets. */
function shortenedScript(doc: unknown, overrides: readonly ScenarioOverride[]): { rounds: number; flag: string; list: string; paths: string[] } | null {
  const o = [...overrides].reverse().find((x) => x.path === 'rounds' && x.flag !== undefined);
  if (!o || typeof o.value !== 'number' || !Number.isInteger(o.value) || o.value < 1) return null;
  const late = scriptedFaultsAfter(doc, o.value);
  if (late.length === 0) return null;
  return { rounds: o.value, flag: o.flag!, list: late.map((f) => `${f.path} (${f.what})`).join(', '), paths: late.map((f) => f.path) };
}

function locate(p: KeyedProblem, overrides: readonly ScenarioOverride[]): ScenarioProblem {
  const flag = flagOf(p.keys, overrides);
  const { keys: _keys, line, ...rest } = p;
  return flag !== undefined ? { ...rest, flag } : { ...rest, ...(line !== undefined ? { line } : {}) };
}

/** Problems from flags first (a stable sort keeps the rest in the order found). */
function byPlace(a: ScenarioProblem, b: ScenarioProblem): number {
  return Number(b.flag !== undefined) - Number(a.flag !== undefined);
}

export function loadScenario(file: string, options: LoadOptions = {}): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioError(file, [{ path: '', message: `cannot read file: ${(error as Error).message}` }]);
  }
  return parseScenario(text, file, options);
}

/** A problem with the keys of its path, to tell whether a flag caused it. */
type KeyedProblem = ScenarioProblem & { keys: readonly PropertyKey[] };

function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown, line: (path: readonly PropertyKey[]) => number | undefined): KeyedProblem[] {
  const problems: KeyedProblem[] = [];
  const add = (keys: readonly PropertyKey[], message: string) => problems.push({ path: formatPath(keys), keys, line: line(keys), message });
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      // A field that takes one of several shapes: report the branch that got furthest.
      const branches = issue.errors;
      const best = branches.reduce((a, b) => (deepest(b) > deepest(a) ? b : a), branches[0] ?? []);
      problems.push(
        ...describeIssues(
          best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
          raw,
          line,
        ),
      );
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(ScenarioSchema, issue.path);
      for (const key of issue.keys) add([...issue.path, key], `unknown field${didYouMean(key, known)}`);
      continue;
    }
    const value = valueAt(raw, issue.path);
    // zod's own wording of a bad enum value, not a schema's chosen message.
    if (
      issue.code === 'invalid_value' &&
      issue.message.startsWith('Invalid option') &&
      typeof value === 'string' &&
      issue.values.every((v) => typeof v === 'string')
    ) {
      const known = issue.values as string[];
      add(issue.path, `expected one of ${known.join(', ')}, got ${JSON.stringify(value)}${didYouMean(value, known)}`);
      continue;
    }
    let message = issue.message;
    const base = message.replace(/^Invalid input: /, '');
    if (value === undefined) message = issue.code === 'invalid_type' ? `required field missing (${base})` : base;
    else if (issue.code !== 'custom' && (value === null || typeof value !== 'object')) message = `${base}, got ${JSON.stringify(value)}`;
    add(issue.path, message);
  }
  return problems;
}

function deepest(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function lineOf(root: unknown, path: readonly PropertyKey[], counter: LineCounter): number | undefined {
  let node = root as YamlNode | null | undefined;
  let lastRange: [number, number, number] | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      lastRange = (pair.key as YamlNode).range ?? lastRange;
      node = pair.value as YamlNode;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as YamlNode;
    } else break;
    if (node?.range) lastRange = node.range;
  }
  const range = node?.range ?? lastRange;
  return range ? counter.linePos(range[0]).line : undefined;
}
