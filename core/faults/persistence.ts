/**
 * What an actor persists to resume after a crash: its XState persisted snapshot (context
 * included: the server's accepted uploads of the open round, a client's own logits), when it
 * entered each active state (so deadlines keep their absolute time across a restart), its
 * actor-side counters, and its LoRA adapter. In memory by default; on disk (msgpack with
 * typed arrays, as the wire codec writes them) under RUN_DIR/state/<actor>/.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import type { AnyActor, AnyStateMachine, Snapshot } from 'xstate';
import { replaceFile } from '../files.js';
import type { AdapterWeights } from '../models/model.js';
import { bookGet, bookIds, bookWith, emptyBook, isBook } from '../upload-book.js';

export interface PersistedActor {
  /** `actor.getPersistedSnapshot()` form: restore with `createActor(machine, { snapshot })`. */
  snapshot: Snapshot<unknown>;
  /** Clock ms at which each active state node (by id) was entered. */
  enteredAt: Record<string, number>;
  /** Actor-side state outside the machine: endpoint counters, per-round measurements. */
  local: Record<string, unknown>;
  /** The adapter as it was when the actor entered its current state. */
  adapter: AdapterWeights | null;
  /** Clock ms of the last save. */
  at: number;
}

export interface StateStore {
  save(actor: string, record: PersistedActor): void;
  load(actor: string): PersistedActor | undefined;
}

/** Keeps the latest record of each actor. Records are immutable data: no copy is needed. */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, PersistedActor>();
  save(actor: string, record: PersistedActor): void {
    this.records.set(actor, record);
  }
  load(actor: string): PersistedActor | undefined {
    return this.records.get(actor);
  }
}

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false, bundleStrings: false });
const unpackr = new Unpackr({ moreTypes: true, useRecords: false, structuredClone: false, mapsAsObjects: true });

/** Context maps written one file per entry, so a save rewrites only what changed. */
const ENTRY_MAPS = ['uploads', 'adapters'] as const;

/** What this process wrote for an actor: by identity (machine contexts are immutable), and under which file names. */
interface Written {
  adapter: { value: unknown; file: string } | null;
  entries: Map<string, { value: unknown; file: string }>;
  /** Files written since the last snapshot, or replaced by it, that no snapshot refers to any more. */
  stale: string[];
  /** The first save of this process: files a killed one left behind are swept after it. */
  first: boolean;
}

/** The snapshot file: which entry and adapter files make up the actor's state (a `string[]` index and `adapter.msgpack` in older folders). */
interface SnapshotFile {
  snapshot: { context: Record<string, unknown> };
  index: Record<string, Record<string, string> | string[]>;
  /** Entry maps that were {@link UploadBook}s. */
  books?: string[];
  adapterFile?: string | null;
  enteredAt: Record<string, number>;
  local: Record<string, unknown>;
  at: number;
}

/**
 * RUN_DIR/state/<actor>/: `snapshot.msgpack` (snapshot without the entry maps, enteredAt, local,
 * and the names of the files below), the adapter, and one file per entry of the server's accepted
 * uploads and adapters of the open round (`uploads/`, `adapters/`). Each entry and adapter file is
 * written under a name of its own when its content changed (by identity) and never rewritten;
 * the snapshot file, replaced whole (core/files.ts), is what commits a save. An actor killed in
 * the middle of one therefore comes back with the state of its last save or of this one, never a
 * mix: files not yet named by a snapshot are left over, and are removed once a save has committed.
 */
export class DiskStateStore implements StateStore {
  private readonly written = new Map<string, Written>();
  /** Entry and adapter file names of this process, apart from those of an earlier one in the same folder. */
  private readonly prefix = randomBytes(4).toString('hex');
  private saves = 0;

  constructor(readonly dir: string) {}

  save(actor: string, record: PersistedActor): void {
    const dir = join(this.dir, actor);
    let seen = this.written.get(actor);
    if (!seen) {
      mkdirSync(dir, { recursive: true });
      seen = { adapter: null, entries: new Map(), stale: [], first: true };
      this.written.set(actor, seen);
    }
    const version = `${this.prefix}-${++this.saves}`;
    const context = (record.snapshot as { context?: Record<string, unknown> }).context ?? {};
    const light: Record<string, unknown> = { ...context };
    const index: Record<string, Record<string, string>> = {};
    const books: string[] = [];
    const kept = new Set<string>();
    for (const key of ENTRY_MAPS) {
      const value = context[key];
      if (!value || typeof value !== 'object') continue;
      if (isBook(value)) books.push(key);
      const map = isBook(value) ? Object.fromEntries(bookIds(value).map((id) => [id, bookGet(value, id)])) : (value as Record<string, unknown>);
      delete light[key];
      mkdirSync(join(dir, key), { recursive: true });
      index[key] = {};
      for (const [entry, v] of Object.entries(map)) {
        const id = `${key}/${entry}`;
        kept.add(id);
        const had = seen.entries.get(id);
        if (had?.value !== v) {
          const file = `${key}/${entry}.${version}.msgpack`;
          writeFileSync(join(dir, file), packr.pack(v));
          if (had) seen.stale.push(had.file);
          seen.entries.set(id, { value: v, file });
        }
        index[key][entry] = seen.entries.get(id)!.file;
      }
    }
    for (const [id, { file }] of seen.entries) {
      if (kept.has(id)) continue;
      seen.stale.push(file);
      seen.entries.delete(id);
    }
    if (record.adapter !== seen.adapter?.value || seen.adapter === null) {
      const file = `adapter.${version}.msgpack`;
      writeFileSync(join(dir, file), packr.pack(record.adapter));
      if (seen.adapter) seen.stale.push(seen.adapter.file);
      seen.adapter = { value: record.adapter, file };
    }
    const snapshot = { ...(record.snapshot as object), context: light };
    const file: SnapshotFile = {
      snapshot: snapshot as SnapshotFile['snapshot'],
      index,
      books,
      adapterFile: seen.adapter.file,
      enteredAt: record.enteredAt,
      local: record.local,
      at: record.at,
    };
    replaceFile(join(dir, 'snapshot.msgpack'), packr.pack(file));
    for (const stale of seen.stale) rmSync(join(dir, stale), { force: true });
    seen.stale = [];
    if (seen.first) {
      seen.first = false;
      sweepUnnamed(dir, file);
    }
  }

  load(actor: string): PersistedActor | undefined {
    const dir = join(this.dir, actor);
    const snapshotFile = join(dir, 'snapshot.msgpack');
    if (!existsSync(snapshotFile)) return undefined;
    const saved = readState<SnapshotFile>(actor, snapshotFile);
    const context = { ...saved.snapshot.context };
    for (const [key, entries] of Object.entries(saved.index)) {
      const files = Array.isArray(entries) ? Object.fromEntries(entries.map((e) => [e, `${key}/${e}.msgpack`])) : entries;
      const map: Record<string, unknown> = {};
      for (const [entry, file] of Object.entries(files)) {
        if (!existsSync(join(dir, file))) throw new Error(`state of ${actor}: ${file} is missing (${dir})`);
        map[entry] = readState(actor, join(dir, file));
      }
      context[key] = saved.books?.includes(key) ? Object.entries(map).reduce((book, [id, v]) => bookWith(book, id, v), emptyBook<unknown>()) : map;
    }
    const adapterFile = join(dir, saved.adapterFile ?? 'adapter.msgpack');
    const adapter = existsSync(adapterFile) ? readState<AdapterWeights | null>(actor, adapterFile) : null;
    return {
      snapshot: { ...saved.snapshot, context } as unknown as Snapshot<unknown>,
      enteredAt: saved.enteredAt,
      local: saved.local,
      adapter,
      at: saved.at,
    };
  }
}

function readState<T>(actor: string, file: string): T {
  try {
    return unpackr.unpack(readFileSync(file)) as T;
  } catch (error) {
    throw new Error(`state of ${actor}: ${file} cannot be read: ${(error as Error).message}`);
  }
}

/** Remove the entry and adapter files of `dir` that `committed` does not name: what a process killed mid-save left. */
function sweepUnnamed(dir: string, committed: SnapshotFile): void {
  const named = new Set([committed.adapterFile, ...Object.values(committed.index).flatMap((files) => Object.values(files))]);
  for (const key of ENTRY_MAPS)
    if (existsSync(join(dir, key))) for (const f of readdirSync(join(dir, key))) if (!named.has(`${key}/${f}`)) rmSync(join(dir, key, f), { force: true });
  for (const f of readdirSync(dir)) if (f.startsWith('adapter.') && !named.has(f)) rmSync(join(dir, f), { force: true });
}

/**
 * The actor's persisted snapshot. XState's own walk of the context (looking for actor refs to
 * replace) visits every element of every typed array; these machines keep no actor refs in
 * their context, so it is skipped and the (immutable) context taken as it is.
 */
export function persistedSnapshot(actor: AnyActor): Snapshot<unknown> {
  const snapshot = actor.getSnapshot() as Record<string, unknown>;
  const persisted = (actor.logic as AnyStateMachine).getPersistedSnapshot({ ...snapshot, context: {} } as never) as Record<string, unknown>;
  persisted.context = snapshot.context;
  return persisted as unknown as Snapshot<unknown>;
}

interface DelayedTransition {
  eventType: string;
  delay: number | string | ((args: unknown) => number);
}
interface NodeWithAfter {
  id: string;
  after: DelayedTransition[];
}

/** Ids of the active state nodes of a machine actor's snapshot. */
export function activeNodeIds(snapshot: unknown): string[] {
  const nodes = (snapshot as { _nodes?: { id: string }[] })._nodes ?? [];
  return nodes.map((n) => n.id);
}

/**
 * XState does not carry scheduled (delayed) events across a restore: re-arm each active
 * state's `after` transitions with the time it has left, counted from when the state was
 * entered before the crash. Scheduled under XState's own ids, so leaving the state cancels them.
 */
export function rearmDelays(actor: AnyActor, enteredAt: Record<string, number>, now: number): { event: string; remainingMs: number }[] {
  const snapshot = actor.getSnapshot() as { _nodes?: NodeWithAfter[]; context: unknown };
  const machine = actor.logic as AnyStateMachine;
  const delays = (machine.implementations?.delays ?? {}) as Record<string, number | ((args: unknown, params: unknown) => number)>;
  const scheduler = (actor.system as unknown as { scheduler: { schedule(s: unknown, t: unknown, e: unknown, d: number, id: string): void } }).scheduler;
  const armed: { event: string; remainingMs: number }[] = [];
  for (const node of snapshot._nodes ?? []) {
    const seen = new Set<string>();
    for (const t of node.after) {
      if (seen.has(t.eventType)) continue;
      seen.add(t.eventType);
      let ms: number;
      if (typeof t.delay === 'number') ms = t.delay;
      else if (typeof t.delay === 'function') ms = t.delay({ context: snapshot.context, event: { type: 'xstate.restore' }, self: actor, system: actor.system });
      else {
        const named = delays[t.delay];
        ms =
          typeof named === 'function'
            ? named({ context: snapshot.context, event: { type: 'xstate.restore' }, self: actor, system: actor.system }, undefined)
            : (named ?? 0);
      }
      const remainingMs = Math.max(0, (enteredAt[node.id] ?? now) + ms - now);
      scheduler.schedule(actor, actor, { type: t.eventType }, remainingMs, t.eventType);
      armed.push({ event: t.eventType, remainingMs });
    }
  }
  return armed;
}
