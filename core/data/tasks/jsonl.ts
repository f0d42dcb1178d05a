/**
 * Reading JSON-lines files with a schema per record. Every error names the file, the 1-based
 * line and the offending field.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';

export interface JsonlRecord<T> {
  /** 1-based line number in the file. */
  line: number;
  value: T;
}

export class DatasetFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`${file}:${line}: ${field === undefined ? '' : `field "${field}": `}${detail}`);
    this.name = 'DatasetFormatError';
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

function parseJsonl<S extends z.ZodType>(text: string, file: string, schema: S): JsonlRecord<z.infer<S>>[] {
  const out: JsonlRecord<z.infer<S>>[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new DatasetFormatError(file, line, undefined, `invalid JSON (${(err as Error).message})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue ? fieldPath(issue.path) : '';
      throw new DatasetFormatError(file, line, field || '(record)', issue?.message ?? 'does not match the expected shape');
    }
    out.push({ line, value: parsed.data });
  });
  if (out.length === 0) throw new DatasetFormatError(file, 1, undefined, 'file holds no records');
  return out;
}

export async function readJsonl<S extends z.ZodType>(file: string, schema: S): Promise<JsonlRecord<z.infer<S>>[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read dataset file ${file}: ${(err as Error).message}`);
  }
  return parseJsonl(text, file, schema);
}
