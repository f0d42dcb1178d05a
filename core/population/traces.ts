/**
 * Device traces of a population (docs/populations.md): when each device can be reached, and how
 * fast it computes and sends. The JSON forms are FedScale's own, read from its pickles once
 * converted (`json.dump(pickle.load(f), out)`):
 *
 *   availability  { "<id>": { "active": [s, ...], "inactive": [s, ...], "finish_time": s, "duration"?: s } }
 *                 the device is online from active[k] to inactive[k] seconds, cyclic over finish_time
 *   capacity      { "<id>": { "computation": ms per sample, "communication": kbit/s } }
 *
 * and the CSV forms have one row per interval (`client,active,inactive,finish_time`) or per
 * device (`client,computation,communication`). Population client i replays the trace's i-th
 * device in id order (cycling when the population is larger than the trace).
 */
import { readFileSync } from 'node:fs';

/** Availability intervals of every traced device, packed (a 100k-device trace is a few MB). */
export interface AvailabilityTable {
  ids: string[];
  /** Device d's intervals are [offsets[d], offsets[d + 1]). */
  offsets: Uint32Array;
  /** Seconds, ascending within a device. */
  active: Float64Array;
  inactive: Float64Array;
  /** Seconds after which a device's trace repeats. */
  finishTime: Float64Array;
  /** FedScale's `duration`, kept for the round trip (NaN: absent). */
  duration: Float64Array;
}

export interface CapacityTable {
  ids: string[];
  /** Milliseconds per sample (FedScale `computation`). */
  computation: Float64Array;
  /** Kilobits per second (FedScale `communication`). */
  communication: Float64Array;
}

type Kind = 'availability' | 'capacity';

/** Numeric ids in numeric order, then the rest. */
function byId(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function numbers(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
    throw new Error(`${where}: expected a list of numbers (seconds)`);
  return value as number[];
}

function finite(value: unknown, where: string, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0))
    throw new Error(`${where}: expected a ${positive ? 'positive' : 'non-negative'} number, got ${JSON.stringify(value)}`);
  return value;
}

/** FedScale's availability trace (already parsed JSON) into a table; throws naming the device and field. */
function importFedScaleAvailability(doc: unknown): AvailabilityTable {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expected an object keyed by client id');
  const entries = Object.entries(doc as Record<string, unknown>).sort(([a], [b]) => byId(a, b));
  if (entries.length === 0) throw new Error('the trace has no client');
  const offsets = new Uint32Array(entries.length + 1);
  const finishTime = new Float64Array(entries.length);
  const duration = new Float64Array(entries.length).fill(Number.NaN);
  const active: number[] = [];
  const inactive: number[] = [];
  entries.forEach(([id, raw], d) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const on = numbers(e.active, `client ${id}: active`);
    const off = numbers(e.inactive, `client ${id}: inactive`);
    if (on.length !== off.length) throw new Error(`client ${id}: ${on.length} active but ${off.length} inactive times`);
    on.forEach((a, k) => {
      if (off[k]! < a) throw new Error(`client ${id}: inactive[${k}] = ${off[k]} is before active[${k}] = ${a}`);
      if (k > 0 && a < off[k - 1]!) throw new Error(`client ${id}: active[${k}] = ${a} is before inactive[${k - 1}] = ${off[k - 1]}`);
    });
    finishTime[d] = finite(e.finish_time, `client ${id}: finish_time`, true);
    if (e.duration !== undefined) duration[d] = finite(e.duration, `client ${id}: duration`);
    active.push(...on);
    inactive.push(...off);
    offsets[d + 1] = active.length;
  });
  return { ids: entries.map(([id]) => id), offsets, active: Float64Array.from(active), inactive: Float64Array.from(inactive), finishTime, duration };
}

/** The table as FedScale writes it: what {@link importFedScaleAvailability} reads back unchanged. */
export function exportFedScaleAvailability(table: AvailabilityTable): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  table.ids.forEach((id, d) => {
    const from = table.offsets[d]!;
    const to = table.offsets[d + 1]!;
    const entry: Record<string, unknown> = {};
    if (!Number.isNaN(table.duration[d]!)) entry.duration = table.duration[d];
    entry.inactive = Array.from(table.inactive.subarray(from, to));
    entry.finish_time = table.finishTime[d];
    entry.active = Array.from(table.active.subarray(from, to));
    out[id] = entry;
  });
  return out;
}

/** FedScale's device capacities (parsed JSON) into a table. */
function importFedScaleCapacity(doc: unknown): CapacityTable {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expected an object keyed by client id');
  const entries = Object.entries(doc as Record<string, unknown>).sort(([a], [b]) => byId(a, b));
  if (entries.length === 0) throw new Error('the trace has no client');
  const computation = new Float64Array(entries.length);
  const communication = new Float64Array(entries.length);
  entries.forEach(([id, raw], d) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    computation[d] = finite(e.computation, `client ${id}: computation`, true);
    communication[d] = finite(e.communication, `client ${id}: communication`, true);
  });
  return { ids: entries.map(([id]) => id), computation, communication };
}

export function exportFedScaleCapacity(table: CapacityTable): Record<string, { computation: number; communication: number }> {
  return Object.fromEntries(table.ids.map((id, d) => [id, { computation: table.computation[d]!, communication: table.communication[d]! }]));
}

/** CSV rows as objects keyed by the header; numbers where a cell is one. Throws naming the line. */
function csvRows(text: string, columns: readonly string[]): { line: number; row: Record<string, string> }[] {
  const lines = text
    .split(/\r?\n/)
    .map((l, i) => ({ text: l.trim(), line: i + 1 }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
  const header = (lines.shift()?.text ?? '').split(',').map((h) => h.trim());
  for (const c of columns) if (!header.includes(c)) throw new Error(`line 1: expected a header with columns ${columns.join(',')}, missing "${c}"`);
  return lines.map(({ text: l, line }) => {
    const cells = l.split(',').map((c) => c.trim());
    if (cells.length !== header.length) throw new Error(`line ${line}: expected ${header.length} cells, got ${cells.length}`);
    return { line, row: Object.fromEntries(header.map((h, i) => [h, cells[i]!])) };
  });
}

function cell(row: Record<string, string>, column: string, line: number): number {
  const v = Number(row[column]);
  if (row[column] === '' || !Number.isFinite(v) || v < 0) throw new Error(`line ${line}: ${column}: expected a number >= 0, got "${row[column]}"`);
  return v;
}

/** CSV availability, one interval per row, into FedScale's JSON form. */
function availabilityCsv(text: string): Record<string, { active: number[]; inactive: number[]; finish_time: number }> {
  const out: Record<string, { active: number[]; inactive: number[]; finish_time: number }> = {};
  for (const { line, row } of csvRows(text, ['client', 'active', 'inactive', 'finish_time'])) {
    const e = (out[row.client!] ??= { active: [], inactive: [], finish_time: 0 });
    e.active.push(cell(row, 'active', line));
    e.inactive.push(cell(row, 'inactive', line));
    e.finish_time = cell(row, 'finish_time', line);
  }
  return out;
}

function capacityCsv(text: string): Record<string, { computation: number; communication: number }> {
  const out: Record<string, { computation: number; communication: number }> = {};
  for (const { line, row } of csvRows(text, ['client', 'computation', 'communication']))
    out[row.client!] = { computation: cell(row, 'computation', line), communication: cell(row, 'communication', line) };
  return out;
}

function parsed(file: string, kind: Kind): unknown {
  const text = readFileSync(file, 'utf8');
  if (/\.csv$/i.test(file)) return kind === 'availability' ? availabilityCsv(text) : capacityCsv(text);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message}); a FedScale pickle converts with json.dump(pickle.load(f), out)`);
  }
}

export function readAvailabilityTrace(file: string): AvailabilityTable {
  return importFedScaleAvailability(parsed(file, 'availability'));
}

export function readCapacityTrace(file: string): CapacityTable {
  return importFedScaleCapacity(parsed(file, 'capacity'));
}

/** Why the file is not a trace of this kind (null: it is), for `fedmkt validate`. */
export function traceProblem(file: string, kind: Kind): string | null {
  try {
    if (kind === 'availability') readAvailabilityTrace(file);
    else readCapacityTrace(file);
    return null;
  } catch (error) {
    return `${file}: not a ${kind} trace: ${(error as Error).message}`;
  }
}
