/**
 * An actor's state on disk (`faults.persist: disk`) survives its process being killed in the
 * middle of a save: whichever file operation the kill stops, what loads is the last save or the
 * new one, whole, never a mix of the two nor a file cut short. The kill is played by making
 * the n-th file operation of the save throw (a write leaving half its bytes), for every n the
 * save makes.
 */
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiskStateStore, type PersistedActor } from '../../core/faults/persistence.js';

vi.mock('node:fs', async (original) => {
  const real = await original<typeof import('node:fs')>();
  const kill = { after: Number.POSITIVE_INFINITY, ops: 0 };
  const counted =
    <A extends unknown[], R>(f: (...args: A) => R) =>
    (...args: A): R => {
      if (++kill.ops > kill.after) throw new Error('killed');
      return f(...args);
    };
  return {
    ...real,
    kill,
    // Killed in the middle of a write, the file is left cut short.
    writeFileSync: (file: fs.PathOrFileDescriptor, data: string | NodeJS.ArrayBufferView) => {
      if (kill.ops + 1 > kill.after && typeof data !== 'string') real.writeFileSync(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength >> 1));
      return counted(real.writeFileSync)(file, data);
    },
    renameSync: counted(real.renameSync),
    rmSync: counted(real.rmSync),
  };
});
const kill = (fs as unknown as { kill: { after: number; ops: number } }).kill;

/** A server's record: its snapshot with the round's uploads (an entry map), its adapter. */
function record(round: number, uploads: Record<string, number[]>, adapter: number): PersistedActor {
  const context = { round, uploads: Object.fromEntries(Object.entries(uploads).map(([c, v]) => [c, { round, logits: new Float32Array(v) }])) };
  return {
    snapshot: { status: 'active', value: 'awaitSLMLogits', context } as never,
    enteredAt: { 'server.awaitSLMLogits': round * 100 },
    local: { recorded: round * 10 },
    adapter: { lora: new Float32Array([adapter, adapter]) } as never,
    at: round * 1000,
  };
}

const folders: string[] = [];
afterEach(() => {
  kill.after = Number.POSITIVE_INFINITY;
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

describe('an actor state on disk, its process killed mid-save', () => {
  const first = record(2, { c1: [1, 2], c2: [3, 4] }, 1);
  // The next save: c2's upload replaced, c1's gone, c3's new, another adapter.
  const second = record(3, { c2: [5, 6], c3: [7, 8] }, 2);

  it('loads the last save or the new one, whole, whichever operation the kill stops', () => {
    // How many file operations the second save makes, uninterrupted.
    const probe = mkdtempSync(join(tmpdir(), 'fedmkt-disk-state-'));
    folders.push(probe);
    const store = new DiskStateStore(probe);
    store.save('server', first);
    kill.ops = 0;
    store.save('server', second);
    const ops = kill.ops;
    expect(ops).toBeGreaterThan(4);

    const outcomes = new Set<number>();
    for (let n = 0; n <= ops; n++) {
      const dir = mkdtempSync(join(tmpdir(), 'fedmkt-disk-state-'));
      folders.push(dir);
      new DiskStateStore(dir).save('server', first);
      kill.ops = 0;
      kill.after = n;
      const killed = new DiskStateStore(dir);
      // A new process (a new store) carries on from the folder, as `serve --restart` does.
      killed.load('server');
      try {
        killed.save('server', second);
      } catch (error) {
        expect((error as Error).message).toBe('killed');
      }
      kill.after = Number.POSITIVE_INFINITY;
      const loaded = new DiskStateStore(dir).load('server')!;
      const whole = [first, second].findIndex((r) => JSON.stringify(comparable(loaded)) === JSON.stringify(comparable(r)));
      expect(whole, `killed after ${n} of ${ops} file operations`).toBeGreaterThanOrEqual(0);
      outcomes.add(whole);
    }
    expect([...outcomes].sort()).toEqual([0, 1]);
  });

  it('removes, at its next save, the files a killed process wrote but never committed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-disk-state-'));
    folders.push(dir);
    new DiskStateStore(dir).save('server', first);
    writeFileSync(join(dir, 'server', 'uploads', 'c9.deadbeef-7.msgpack'), 'cut sh');
    const restarted = new DiskStateStore(dir);
    restarted.save('server', restarted.load('server')!);
    expect(readdirSync(join(dir, 'server', 'uploads')).map((f) => f.slice(0, f.indexOf('.')))).toEqual(['c1', 'c2']);
    expect(comparable(new DiskStateStore(dir).load('server')!)).toEqual(comparable(first));
  });

  it('names the file and the actor when a state file cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-disk-state-'));
    folders.push(dir);
    new DiskStateStore(dir).save('server', first);
    writeFileSync(join(dir, 'server', 'snapshot.msgpack'), Buffer.from([0x85, 0xa1]));
    expect(() => new DiskStateStore(dir).load('server')).toThrow(/state of server: .*snapshot\.msgpack cannot be read/);
  });
});

/** A record as plain data (typed arrays as lists), to compare two of them. */
function comparable(r: PersistedActor): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (v instanceof Float32Array ? [...v] : v)));
}
