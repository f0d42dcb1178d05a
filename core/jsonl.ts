/**
 * Reading the JSON-lines records a run writes (events.jsonl, metrics.jsonl, timings.jsonl).
 * Each record is written whole with its newline, so a file whose last line has no newline and
 * does not parse was cut short by a kill: that is a truncation, not damage.
 */

export interface JsonlText {
  /** The complete lines, in order (blank ones included, as written). */
  lines: string[];
  /** 1-based number of the line cut short at the end of the file, or null when the file ends whole. */
  cutShortAt: number | null;
}

export function splitJsonl(text: string): JsonlText {
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  if (last === '') return { lines, cutShortAt: null };
  try {
    JSON.parse(last);
    lines.push(last);
    return { lines, cutShortAt: null };
  } catch {
    return { lines, cutShortAt: lines.length + 1 };
  }
}

/** `events.jsonl is cut short at line 12 (its last complete line is 11)`: how every command says it. */
export function describeCutShort(file: string, cutShortAt: number): string {
  return `${file} is cut short at line ${cutShortAt} (the run was interrupted while writing it); its last complete line is ${cutShortAt - 1}`;
}
