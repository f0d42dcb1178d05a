/**
 * Replay: a chaos run (every fault at once) re-executed from its folder gives byte-identical
 * events.jsonl and metrics.jsonl; a difference is reported at its line.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { firstDivergence, formatDivergence, replayRunDir } from '../../cli/commands/replay.js';
import { chaosBigramScenario } from './chaos-bigram.js';
import { bigramLearning } from './helpers.js';

describe('replay', () => {
  it('replays a chaos run identically, and points at the first line that differs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-chaos-'));
    const original = await runFederation(chaosBigramScenario(), { outDir: dir, learning: bigramLearning() });
    expect(original.violations).toEqual([]);
    const kinds = new Set(original.recorder.events.map((e) => e.kind));
    for (const k of ['drop', 'delay', 'duplicate', 'reorder', 'corrupt', 'reject', 'partition', 'crash', 'restart', 'dropout', 'rejoin', 'straggler'])
      expect(kinds).toContain(k);

    const same = await replayRunDir(dir, bigramLearning());
    expect(same.divergence).toBeNull();
    expect(same.events).toBe(original.recorder.events.length);

    // Tamper with one line of each file: the replay reports exactly that line.
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n');
    const line = Math.floor(events.length / 2);
    const actual = events[line - 1]!;
    events[line - 1] = actual.replace(/"t":[0-9.]+/, '"t":-1');
    writeFileSync(join(dir, 'events.jsonl'), events.join('\n'));
    const diverged = await replayRunDir(dir, bigramLearning());
    expect(diverged.divergence).toEqual({ file: 'events.jsonl', line, expected: events[line - 1], actual });
    expect(formatDivergence(diverged.divergence!)).toBe(`events.jsonl line ${line} differs:\n  expected: ${events[line - 1]}\n  actual:   ${actual}`);
  });

  it('reports a file that ends early or goes on', () => {
    expect(firstDivergence('metrics.jsonl', ['a', 'b'], ['a'])).toEqual({ file: 'metrics.jsonl', line: 2, expected: 'b', actual: null });
    expect(firstDivergence('metrics.jsonl', ['a'], ['a', 'c'])).toEqual({ file: 'metrics.jsonl', line: 2, expected: null, actual: 'c' });
    expect(firstDivergence('events.jsonl', ['a'], ['a'])).toBeNull();
  });
});
