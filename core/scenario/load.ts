import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ScenarioSchema, type Scenario } from './schema.js';

/** One thing wrong with a scenario file, with where it is. */
export interface ScenarioProblem {
  /** `clients[2].protocol.topK` style path; empty for the document itself. */
  path: string;
  /** 1-based line in the file, when known. */
  line?: number;
  message: string;
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ScenarioProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  ${p.line !== undefined ? `line ${p.line}: ` : ''}${p.path || '(document)'}: ${p.message}`).join('\n'),
    );
    this.name = 'ScenarioError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Parse and validate scenario text; throws {@link ScenarioError} listing every problem. */
export function parseScenario(text: string, file = '<scenario>', overrides: (doc: unknown) => unknown = (d) => d): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({ path: '', line: lineCounter.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw = overrides(doc.toJS());
  const result = ScenarioSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ScenarioError(file, describeIssues(result.error.issues, raw, (path) => lineOf(doc.contents, path, lineCounter)));
}

export function loadScenario(file: string, overrides?: (doc: unknown) => unknown): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioError(file, [{ path: '', message: `cannot read file: ${(error as Error).message}` }]);
  }
  return parseScenario(text, file, overrides);
}

function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  line: (path: readonly PropertyKey[]) => number | undefined,
): ScenarioProblem[] {
  const problems: ScenarioProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      // A field that takes one of several shapes: report the branch that got furthest.
      const branches = issue.errors;
      const best = branches.reduce((a, b) => (deepest(b) > deepest(a) ? b : a), branches[0] ?? []);
      problems.push(...describeIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })), raw, line));
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({ path: formatPath(path), line: line(path), message: 'unknown field' });
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    let message = issue.message;
    const base = message.replace(/^Invalid input: /, '');
    if (value === undefined) message = issue.code === 'invalid_type' ? `required field missing (${base})` : base;
    else if (issue.code !== 'custom' && (value === null || typeof value !== 'object')) message = `${base}, got ${JSON.stringify(value)}`;
    problems.push({ path: formatPath(issue.path), line: line(issue.path), message });
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
