import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RoundMetrics } from '../../core/records.js';
import { registerReportCommand } from '../../cli/commands/report.js';
import { extractReportData, writeReport, type RecordedEvent } from '../../apps/report/index.js';
import { writeSyntheticRun, type SyntheticRun } from '../../apps/report/synthetic.js';
import { checkXml } from './xml.js';

const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `fedmkt-report-${name}-`));
const readJsonl = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
const inlineSvgs = (html: string) => html.match(/<svg[\s>][\s\S]*?<\/svg>/g) ?? [];

describe('report on a synthetic run (6 clients, 3 rounds, faults, baselines)', () => {
  let dir: string;
  let run: SyntheticRun;
  let html: string;
  beforeAll(() => {
    dir = tempDir('small');
    run = writeSyntheticRun(dir, { clients: 6, rounds: 3, faults: true, baselines: true, seed: 7 });
    const path = writeReport(dir);
    expect(path).toBe(join(dir, 'report.html'));
    html = readFileSync(path, 'utf8');
  });

  it('names every actor, in a lane of its own', () => {
    const actors = [...new Set(run.events.map((e) => e.actor))];
    expect(actors).toHaveLength(7);
    for (const a of actors) expect(html).toMatch(new RegExp(`<text [^>]*class="lane[^"]*">${a}</text>`));
    const data = extractReportData(html);
    expect(data.actors).toEqual(['server', ...actors.filter((a) => a !== 'server').sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))]);
    expect(data.timeline.aggregated).toBe(false);
  });

  it('is self-contained: no external scripts, styles, fonts or URLs', () => {
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/https?:\/\//i);
    // url(#id) names a pattern inside the page itself; any other url( would fetch.
    expect(html).not.toMatch(/@import|@font-face|url\((?!#)/i);
    expect(html).not.toMatch(/<(?:img|iframe|object|embed)\b/i);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('embeds the metrics exactly as metrics.jsonl has them', () => {
    const data = extractReportData(html);
    const rows = readJsonl<RoundMetrics>(join(dir, 'metrics.jsonl'));
    expect(data.metrics.rows).toHaveLength(rows.length);
    const rebuilt = data.metrics.rows.map((r) => Object.fromEntries(data.metrics.columns.map((c, i) => [c, r[i]]).filter(([, v]) => v !== null)));
    const stripNulls = (m: object) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null));
    expect(rebuilt).toEqual(rows.map(stripNulls));
    // Accuracy series: one per actor plus one per baseline row set, points equal to the rows.
    for (const m of rows) {
      const key = typeof m.baseline === 'string' ? `baseline:${m.baseline}:${m.actor}` : m.actor;
      const series = data.accuracy.find((s) => s.key === key);
      expect(series, key).toBeDefined();
      expect(series!.points).toContainEqual([m.round, m.accuracy]);
    }
    expect(data.accuracy.filter((s) => s.baseline === 'standalone')).toHaveLength(6);
    // Bytes each way: the clients' sums per round.
    for (const b of data.bytes) {
      const clientRows = rows.filter((m) => m.round === b.round && m.role === 'client' && m.baseline === undefined);
      expect(b.up).toBe(clientRows.reduce((s, m) => s + m.bytesUp, 0));
      expect(b.down).toBe(clientRows.reduce((s, m) => s + m.bytesDown, 0));
      expect(b.serverSent).toBe(rows.find((m) => m.round === b.round && m.role === 'server' && m.baseline === undefined)!.bytesUp);
    }
  });

  it('draws the server highlighted, baselines dashed, and bars for bytes', () => {
    expect(html).toMatch(/<path class="series server"[^>]*stroke="#111111" stroke-width="3.2"/);
    expect((html.match(/<path class="series client"/g) ?? []).length).toBe(6);
    expect(html).toMatch(/<path class="series baseline"[^>]*stroke-dasharray/);
    expect((html.match(/<rect class="bar up"/g) ?? []).length).toBe(4);
  });

  it('draws a message line per delivery between lanes and a marker per fault', () => {
    const events = readJsonl<RecordedEvent>(join(dir, 'events.jsonl'));
    const sends = new Set(events.filter((e) => e.kind === 'send').map((e) => e.id));
    const delivered = events.filter((e) => e.kind === 'deliver' && sends.has(e.id));
    const lines = html.match(/<line class="m\d+"/g) ?? [];
    expect(lines).toHaveLength(delivered.length);
    const faultKinds = ['ignored', 'reject', 'deadline', 'quorum', 'drop', 'duplicate', 'delay', 'corrupt', 'crash'];
    const data = extractReportData(html);
    for (const kind of faultKinds) {
      const n = events.filter((e) => e.kind === kind).length;
      expect(n, kind).toBeGreaterThan(0);
      expect(data.faults[kind], kind).toBe(n);
      expect((html.match(new RegExp(`<use href="#f-${kind}"`, 'g')) ?? []).length, kind).toBe(n);
      expect(html).toContain(`<symbol id="f-${kind}"`);
    }
    // State bars: one per state event (pass-through states of zero width aside).
    const stateEvents = events.filter((e) => e.kind === 'state').length;
    const bars = (html.match(/<rect class="s\d+"/g) ?? []).length;
    expect(bars).toBeGreaterThan(stateEvents * 0.9);
    expect(bars).toBeLessThanOrEqual(stateEvents);
  });

  it('has well-formed inline SVG and the scenario text', () => {
    const svgs = inlineSvgs(html);
    expect(svgs.length).toBeGreaterThanOrEqual(4);
    for (const svg of svgs) expect(checkXml(svg).problems).toEqual([]);
    expect(html).toContain('<pre>name: synthetic-6x3');
    expect(html).toContain('fedmkt-report-data');
  });
});

describe('report edge cases', () => {
  it('aggregates lanes beyond maxLanes and still lists every actor in the data', () => {
    const dir = tempDir('agg');
    writeSyntheticRun(dir, { clients: 30, rounds: 2, faults: true });
    const html = readFileSync(writeReport(dir, { maxLanes: 12, sampleLanes: 4 }), 'utf8');
    const data = extractReportData(html);
    expect(data.timeline.aggregated).toBe(true);
    expect(data.timeline.lanes).toEqual(['server', 'client-1', 'client-2', 'client-3', 'client-4']);
    expect(data.actors).toHaveLength(31);
    expect(html).toContain('All 30 clients');
    expect((html.match(/<text [^>]*class="lane[^"]*">/g) ?? []).length).toBe(5);
    for (const svg of inlineSvgs(html)) expect(checkXml(svg).problems).toEqual([]);
  });

  it('draws clients as bands when there are too many accuracy lines', () => {
    const dir = tempDir('bands');
    writeSyntheticRun(dir, { clients: 12, rounds: 2 });
    const html = readFileSync(writeReport(dir, { maxSeries: 5 }), 'utf8');
    expect(html).toContain('class="series client-mean"');
    expect(html).not.toContain('class="series client"');
  });

  it('copes with a run that has only events, or only metrics, and skips broken lines', () => {
    const dir = tempDir('partial');
    writeFileSync(
      join(dir, 'events.jsonl'),
      [
        JSON.stringify({ t: 0, actor: 'server', round: 0, kind: 'state', state: 'evaluateZeroShot' }),
        '{"t": 5, "actor": "client-1", broken',
        JSON.stringify({ t: 10, actor: 'client-1', round: 1, kind: 'state', state: 'trainPrivate' }),
        JSON.stringify({ t: 20, actor: 'client-1', round: 1, kind: 'future-fault', what: '<script>' }),
      ].join('\n'),
    );
    const html = readFileSync(writeReport(dir), 'utf8');
    expect(html).toContain('1 unreadable line skipped');
    expect(html).toContain('No accuracy figures');
    expect(html).toContain('<use href="#f-other"');
    expect(html).not.toContain('<script>"');
    expect(extractReportData(html).faults).toEqual({ 'future-fault': 1 });

    const dir2 = tempDir('metrics-only');
    writeFileSync(
      join(dir2, 'metrics.jsonl'),
      `${JSON.stringify({ round: 0, actor: 'server', role: 'server', accuracy: 0.5, accuracyNorm: null, publicCE: null, trainLoss: null, distillLoss: null, bytesUp: 0, bytesDown: 0, virtualSeconds: 0, model: 'llama-tiny' })}\n`,
    );
    const data = extractReportData(readFileSync(writeReport(dir2), 'utf8'));
    expect(data.accuracy.map((s) => s.label)).toEqual(['server (llama-tiny)']);
    expect(() => writeReport(join(dir2, 'missing'))).toThrow(/no such run directory/);
  });

  it('escapes what it prints from the run', () => {
    const dir = tempDir('escape');
    writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify({ t: 0, actor: 'a<b>&"c', round: 0, kind: 'state', state: '</script><x>' })}\n`);
    writeFileSync(join(dir, 'scenario.yaml'), 'name: x\ndescription: "</pre><script>alert(1)</script>"\n');
    const html = readFileSync(writeReport(dir), 'utf8');
    expect(html).not.toContain('<x>');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('a&lt;b&gt;&amp;&quot;c');
    expect(extractReportData(html).actors).toEqual(['a<b>&"c']);
    for (const svg of inlineSvgs(html)) expect(checkXml(svg).problems).toEqual([]);
  });
});

describe('fedmkt report', () => {
  afterEach(() => vi.restoreAllMocks());
  it('writes RUN_DIR/report.html and prints its path', async () => {
    const dir = tempDir('cli');
    writeSyntheticRun(dir, { clients: 3, rounds: 2 });
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command('fedmkt').exitOverride();
    registerReportCommand(program);
    await program.parseAsync(['report', dir], { from: 'user' });
    expect(out.join('').trim()).toBe(join(dir, 'report.html'));
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('client-3');
  });
});

describe('synthetic run', () => {
  it('looks like a recorded run: per client and round ~8+ states, sends and deliveries', () => {
    const dir = tempDir('shape');
    const run = writeSyntheticRun(dir, { clients: 5, rounds: 3 });
    for (let r = 1; r <= 3; r++) {
      const mine = run.events.filter((e) => e.actor === 'client-2' && e.round === r);
      expect(mine.filter((e) => e.kind === 'state').length).toBeGreaterThanOrEqual(8);
      expect(mine.filter((e) => e.kind === 'send').length).toBe(2);
      expect(run.events.filter((e) => e.actor === 'client-2' && e.kind === 'deliver' && e.msgRound === r).length).toBeGreaterThanOrEqual(2);
    }
    const ts = run.events.map((e) => e.t);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(run.metrics.filter((m) => m.actor === 'server').map((m) => m.round)).toEqual([0, 1, 2, 3]);
  });
});

describe('a large run (1000 clients x 10 rounds)', () => {
  it('gives a report under 5 MB in under 5 s, with clients aggregated', () => {
    const dir = tempDir('large');
    const run = writeSyntheticRun(dir, { clients: 1000, rounds: 10, faults: true });
    expect(run.events.length).toBeGreaterThan(1000 * 10 * 12);
    const start = performance.now();
    const path = writeReport(dir);
    const seconds = (performance.now() - start) / 1000;
    const html = readFileSync(path, 'utf8');
    expect(Buffer.byteLength(html)).toBeLessThan(5 * 1024 * 1024);
    expect(seconds).toBeLessThan(5);
    const data = extractReportData(html);
    expect(data.actors).toHaveLength(1001);
    expect(data.metrics.rows).toHaveLength(run.metrics.length);
    expect(run.metrics.length).toBe(1001 * 11 - 1); // one client crashed in the last round
    expect(data.timeline.aggregated).toBe(true);
    expect(html).toContain('class="series client-mean"');
  });
});

describe('time axis', () => {
  it('squeezes a stretch where everyone waits, not one where someone works', async () => {
    const { timeScale, mergeIntervals } = await import('../../apps/report/time-scale.js');
    const times = [0, 100, 200, 10_000, 10_100];
    const idle = timeScale(times, 0, 10_100);
    expect(idle.gaps).toEqual([expect.objectContaining({ t0: 200, t1: 10_000 })]);
    expect(idle.U).toBeLessThan(1000);
    expect(idle.u(200)).toBe(200);
    expect(idle.u(10_100) - idle.u(10_000)).toBeCloseTo(100);
    expect(idle.t(idle.u(5000))).toBeCloseTo(5000);
    const busy = timeScale(times, 0, 10_100, {
      busy: mergeIntervals([
        [150, 9_000],
        [8_000, 9_500],
      ]),
    });
    expect(busy.gaps).toEqual([]);
    expect(busy.u(5000)).toBe(5000);
    expect(timeScale(times, 0, 10_100, { compress: false }).gaps).toEqual([]);
  });
});
