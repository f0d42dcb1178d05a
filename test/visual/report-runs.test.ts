/**
 * The report of runs as they come: faults of every kind drawn distinctly, a dropped-out client
 * offline on its lane, the `network` pseudo-actor not counted as a client, a wall-clock run's
 * times counted from its start, and an events.jsonl cut short by a kill said to be so.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRun, renderReport } from '../../apps/report/index.js';

const state = (t: number, actor: string, round: number, s: string) => ({ t, actor, round, kind: 'state', state: s });

/** A server and two clients: c2 drops out in round 1 and rejoins in round 2, c1 is cut off by a partition, a message is reordered. */
function events(offset = 0) {
  const e = [
    state(0, 'server', 0, 'evaluateZeroShot'),
    state(0, 'c1', 0, 'evaluateZeroShot'),
    state(0, 'c2', 0, 'evaluateZeroShot'),
    state(1000, 'server', 1, 'announceRound'),
    state(1100, 'c1', 1, 'trainPrivate'),
    state(1100, 'c2', 1, 'trainPrivate'),
    { t: 2000, actor: 'c2', round: 1, kind: 'dropout', state: 'trainPrivate', cause: 'dropout.script[0]', rejoinRound: 2 },
    { t: 2500, actor: 'network', round: 1, kind: 'partition', partition: 0, phase: 'start', actors: ['c1'] },
    { t: 3000, actor: 'c1', round: 1, kind: 'reorder', type: 'llm-logits', id: 'server:2', from: 'server', msgRound: 1, cause: 'messages[0]', maxHoldMs: 500 },
    { t: 4000, actor: 'network', round: 1, kind: 'partition', partition: 0, phase: 'end', actors: ['c1'] },
    state(5000, 'server', 2, 'announceRound'),
    { t: 5100, actor: 'c2', round: 2, kind: 'rejoin', state: 'trainPrivate', savedAt: 2000 },
    state(5100, 'c2', 2, 'trainPrivate'),
    state(6000, 'server', 2, 'done'),
    state(6000, 'c1', 2, 'done'),
    state(6000, 'c2', 2, 'done'),
  ];
  return e.map((x) => ({ ...x, t: x.t + offset }));
}

function runDir(text: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedmkt-report-runs-'));
  writeFileSync(join(dir, 'events.jsonl'), text);
  for (const [file, content] of Object.entries(extra)) writeFileSync(join(dir, file), content);
  return dir;
}

const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

describe('the report of a run with faults', () => {
  const { html, data } = renderReport(readRun(runDir(jsonl(events()))));

  it('counts the parties, not the network', () => {
    expect(html).toContain('<li>3 actors (server and 2 clients)</li>');
    expect(data.actors).toEqual(['server', 'c1', 'c2']);
    expect(data.timeline.lanes).toEqual(['server', 'c1', 'c2']);
  });

  it('draws partition, dropout, rejoin and reorder each with a glyph of its own', () => {
    const symbols = Object.fromEntries([...html.matchAll(/<symbol id="f-([a-z-]+)"[^>]*>(.*?)<\/symbol>/g)].map((m) => [m[1], m[2]]));
    const kinds = ['partition', 'dropout', 'rejoin', 'reorder'];
    for (const k of kinds) expect(symbols[k], k).toBeDefined();
    expect(new Set(kinds.map((k) => symbols[k])).size).toBe(kinds.length);
    expect(html).not.toContain('f-other');
    // Each partition marker sits on the lane of the actor it cut off.
    expect([...html.matchAll(/<use href="#f-partition"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1])).toEqual([
      expect.stringMatching(/^partition at c1, round 1/),
      expect.stringMatching(/^partition at c1, round 1/),
    ]);
  });

  it('shows a dropped-out client offline until it rejoins, and a partitioned one cut off', () => {
    expect([...html.matchAll(/<rect class="span-offline"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1])).toEqual([
      'c2: offline (dropout in round 1 at trainPrivate), 2 s to 5.1 s',
    ]);
    expect([...html.matchAll(/<rect class="span-cut"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1])).toEqual([
      'c1: partition 0: c1 cut off from the others, 2.5 s to 4 s',
    ]);
    expect(html).toContain('offline (dropped out or crashed)');
  });

  it('says its times are virtual', () => {
    expect(html).toContain('of virtual time (a local run: simulated time)');
    expect(data.clock).toEqual({ kind: 'virtual', origin: 0 });
  });
});

describe('the report of a wall-clock run', () => {
  const start = Date.UTC(2026, 0, 2, 3, 4, 5);
  it('counts from the start its clock.json gives, labelled wall-clock', () => {
    const dir = runDir(jsonl(events(start + 7000)), { 'clock.json': JSON.stringify({ kind: 'wall', origin: start }) });
    const { html, data } = renderReport(readRun(dir));
    expect(data.clock).toEqual({ kind: 'wall', origin: start });
    expect([data.timeline.t0, data.timeline.t1]).toEqual([7000, 13_000]);
    expect(html).toContain('of wall-clock time (a run over NATS; times from its start at 2026-01-02 03:04:05 UTC)');
    expect(html).not.toMatch(/\d{4,} h\b/);
  });

  it('without clock.json (runs recorded before it), from its first event', () => {
    const { data } = renderReport(readRun(runDir(jsonl(events(start)))));
    expect(data.clock).toEqual({ kind: 'wall', origin: start });
    expect(data.timeline.t0).toBe(0);
  });
});

it('reports an events.jsonl cut short by a kill as cut short, at its last complete line', () => {
  const rows = jsonl(events());
  const { html, data } = renderReport(readRun(runDir(`${rows}{"t":7000,"actor":"c1","ro`)));
  expect(data.cutShort).toEqual([{ file: 'events.jsonl', line: 17 }]);
  expect(html).toContain('events.jsonl is cut short at line 17 (the run was interrupted while writing it); its last complete line is 16');
  expect(html).not.toContain('unreadable line');
  expect(data.events).toBe(16);
});
