/**
 * The live view and the after-run report in a real browser: headless Debian Chromium driven by
 * playwright-core. Skipped when there is no Chromium at /usr/bin/chromium or at $FEDMKT_CHROMIUM.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import { protocolOnlyLearningStack } from '../../actors/protocol-only-learning.js';
import { LiveServer, liveCharts, liveOptionsFromScenario, replay, type LiveSnapshot } from '../../apps/live/index.js';
import { writeReport } from '../../apps/report/index.js';
import { syntheticRun, writeSyntheticRun } from '../../apps/report/synthetic.js';
import { parseScenario } from '../../core/scenario/load.js';
import { tinyScenario } from '../federation/tiny-scenario.js';
import { population } from '../population/scenario.js';
import { hasChromium, launchBrowser, sleep, waitFor, watchErrors } from './helpers.js';

const TEST_MS = 30_000;
const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `fedmkt-live-${name}-`));

/** Options a synthetic run (apps/report/synthetic.ts) implies: its actors, a quorum of half, its deadlines. */
function syntheticOptions(clients: number) {
  return {
    title: 'synthetic',
    actors: [{ id: 'server', role: 'server' as const }, ...Array.from({ length: clients }, (_, i) => ({ id: `client-${i + 1}`, role: 'client' as const }))],
    quorum: Math.ceil(clients / 2),
    deadlines: { server: { awaitSLMLogits: 600_000, 'fedAvg.awaitAdapters': 600_000 }, client: { awaitLLMLogits: 1_800_000 } },
    charts: liveCharts(),
  };
}

const evaluate = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

/** The page's view, read from its DOM. */
interface PageView {
  seq: number;
  status: string;
  rows: { id: string; state: string }[];
  serverActive: string[];
  clientActive: string[];
  badges: number[];
  legend: Record<string, number>;
  messages: number;
  faultKinds: string[];
  markedMessages: number;
  wireLines: number;
  sampleNote: boolean;
}

const VIEW = `(() => {
  const q = (s) => Array.from(document.querySelectorAll(s));
  return {
    seq: Number(document.body.dataset.seq),
    status: document.getElementById('status').textContent,
    rows: q('#actors tbody tr').map((tr) => ({ id: tr.dataset.actor, state: tr.dataset.state })),
    serverActive: q('#chart-server g.state.active').map((g) => g.dataset.id),
    clientActive: q('#chart-client g.state.active').map((g) => g.dataset.id),
    badges: q('#chart-client .badge').filter((b) => b.getAttribute('visibility') === 'visible').map((b) => Number(b.textContent)),
    legend: Object.fromEntries(q('#counts .legend li').map((li) => [li.dataset.state, Number(li.dataset.count)])),
    messages: q('#messages tbody tr').length,
    faultKinds: q('#faults tbody tr').map((tr) => tr.dataset.kind),
    markedMessages: q('#messages tbody tr').filter((tr) => tr.dataset.marks).length,
    wireLines: q('#wire line').length,
    sampleNote: !document.getElementById('sample-note').hidden,
  };
})()`;

describe.skipIf(!hasChromium)('in headless Chromium', () => {
  let browser: BrowserContext;
  let live: LiveServer | null = null;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const p of browser.pages()) await p.close();
    await live?.close();
    live = null;
  });

  async function open(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(url);
    await waitFor(
      page,
      'window.fedmktLive && window.fedmktLive.chartsReady && window.fedmktLive.last !== null && Number(document.body.dataset.seq) === window.fedmktLive.last.seq && window.fedmktLive.renders > 0',
    );
    return { page, errors };
  }

  it('live page: fits a 1400 px wide window without scrolling sideways, long fault details included', async () => {
    const run = syntheticRun({ clients: 6, rounds: 2, faults: true, seed: 5 });
    live = await LiveServer.start(syntheticOptions(6));
    for (const e of run.events) live.push(e);
    const reason = `decode: ${'the checksum of the reassembled bytes differs from the one the sender declared; '.repeat(4)}`;
    live.push({ t: run.events.at(-1)!.t + 1, actor: 'client-1', round: 2, kind: 'reject', type: 'llm-logits', from: 'server', id: 'server:99', reason });
    const { page, errors } = await open(live.url);
    await waitFor(page, "Array.from(document.querySelectorAll('#faults tbody tr')).some((tr) => tr.dataset.kind === 'reject')");
    const [scrollWidth, clientWidth] = await evaluate<[number, number]>(page, '[document.documentElement.scrollWidth, document.documentElement.clientWidth]');
    expect(clientWidth).toBe(1400);
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
    expect(errors).toEqual([]);
  });

  it(
    'live page: every actor on show, updating as a paced synthetic stream comes in, faults marked',
    async () => {
      const run = syntheticRun({ clients: 5, rounds: 3, faults: true, seed: 3 });
      live = await LiveServer.start(syntheticOptions(5));
      const { page, errors } = await open(live.url);
      // Known from the scenario before any event.
      let view = await evaluate<PageView>(page, VIEW);
      expect(view.rows.map((r) => r.id)).toEqual(['server', 'client-1', 'client-2', 'client-3', 'client-4', 'client-5']);
      expect(view.rows.every((r) => r.state === 'starting')).toBe(true);

      const steps = 12;
      const per = Math.ceil(run.events.length / steps);
      const seqs = new Set<number>();
      const serverStates = new Set<string>();
      let sawWire = false;
      let sawMarked = false;
      for (let i = 0; i < steps; i++) {
        for (const e of run.events.slice(i * per, (i + 1) * per)) live.push(e);
        await sleep(250);
        view = await evaluate<PageView>(page, VIEW);
        seqs.add(view.seq);
        for (const id of view.serverActive) serverStates.add(id);
        sawWire ||= view.wireLines > 0;
        sawMarked ||= view.markedMessages > 0;
        expect(view.rows).toHaveLength(6);
        expect(view.serverActive.length).toBeLessThanOrEqual(1);
      }
      expect(seqs.size).toBeGreaterThanOrEqual(6); // it updated during the stream, not only at the end
      expect(serverStates.size).toBeGreaterThanOrEqual(4); // the server's highlight moved over its chart
      expect(sawWire).toBe(true);
      expect(sawMarked).toBe(true);

      live.end({ text: 'synthetic run over' });
      await waitFor(page, "document.getElementById('status').textContent === 'run ended'");
      view = await evaluate<PageView>(page, VIEW);
      const snap = live.snapshot();
      expect(view.seq).toBe(snap.seq);
      const server = snap.actors.rows.find((r) => r.id === 'server')!;
      expect(view.rows.find((r) => r.id === 'server')!.state).toBe(server.state);
      expect(view.serverActive).toEqual([`server.${server.state}`]);
      // Badges count the clients in each drawn state.
      const drawn = Object.entries(snap.counts.client).filter(([s]) => s !== 'offline' && s !== 'starting');
      expect(view.badges.reduce((a, b) => a + b, 0)).toBe(drawn.reduce((a, [, n]) => a + n, 0));
      expect(view.messages).toBeGreaterThan(10);
      for (const kind of ['drop', 'delay', 'duplicate', 'corrupt', 'crash']) expect(view.faultKinds).toContain(kind);
      expect(view.sampleNote).toBe(false);
      expect(errors).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'live page follows a real tiny federation (runFederation with onEvent wired to the server), then its report renders',
    async () => {
      const scenario = tinyScenario();
      live = await LiveServer.start({ ...liveOptionsFromScenario(scenario), charts: liveCharts(scenario), intervalMs: 50 });
      const { page, errors } = await open(live.url);
      const outDir = tempDir('tiny');
      const seen: { seq: number; states: string }[] = [];
      let running = true;
      const watch = (async () => {
        while (running) {
          const v = await evaluate<PageView>(page, VIEW);
          seen.push({ seq: v.seq, states: v.rows.map((r) => r.state).join(',') });
          await sleep(50);
        }
      })();
      const server = live;
      const result = await runFederation(scenario, { learning: await defaultLearningStack(), outDir, onEvent: (e) => server.push(e) });
      running = false;
      await watch;
      live.end({ finalStates: result.finalStates });
      await waitFor(page, "document.getElementById('status').textContent === 'run ended'");
      expect(result.failures).toEqual({});
      // Seen while it ran: several distinct snapshots, with actors in different states.
      expect(new Set(seen.map((s) => s.seq)).size).toBeGreaterThanOrEqual(3);
      expect(new Set(seen.map((s) => s.states)).size).toBeGreaterThanOrEqual(3);
      const view = await evaluate<PageView>(page, VIEW);
      expect(view.rows).toEqual(['server', 'c1', 'c2', 'c3'].map((id) => ({ id, state: 'done' })));
      expect(view.serverActive).toEqual(['server.done']);
      expect(view.clientActive).toEqual(['client.done']);
      expect(view.badges).toEqual([3]);
      const snap = await evaluate<LiveSnapshot>(page, 'window.fedmktLive.last');
      expect(snap.events).toBe(result.recorder.events.length);
      expect(snap.rounds.filter((r) => r.round > 0).map((r) => r.uploads)).toEqual([3, 3]);
      expect(errors).toEqual([]);

      // The report of the same run, in the same browser.
      const report = await browser.newPage();
      const reportErrors = watchErrors(report);
      await report.goto(pathToFileURL(writeReport(outDir)).href);
      expect(await evaluate<number>(report, "document.querySelectorAll('#timeline svg .lane').length")).toBe(4);
      expect(reportErrors).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'live page with 1000 actors: aggregates by state and stays responsive while events stream',
    async () => {
      const run = syntheticRun({ clients: 1000, rounds: 2, faults: true, seed: 5 });
      live = await LiveServer.start(syntheticOptions(1000));
      const { page, errors } = await open(live.url);
      const server = live;
      let done = false;
      const t0 = Date.now();
      const streaming = replay(run.events, (e) => server.push(e), { batch: 200, intervalMs: 8 }).then(() => (done = true));
      const rtts: number[] = [];
      let views = 0;
      while (!done) {
        const t = performance.now();
        const v = await evaluate<PageView>(page, VIEW);
        rtts.push(performance.now() - t);
        if (v.seq > 0) views++;
        expect(v.rows.length).toBeLessThanOrEqual(30);
        await sleep(100);
      }
      await streaming;
      const streamMs = Date.now() - t0;
      live.end();
      await waitFor(page, "document.getElementById('status').textContent === 'run ended'");
      expect(streamMs).toBeGreaterThan(1500); // the page was measured while events streamed
      expect(rtts.length).toBeGreaterThanOrEqual(8);
      expect(Math.max(...rtts)).toBeLessThan(1000);
      const view = await evaluate<PageView>(page, VIEW);
      expect(view.sampleNote).toBe(true);
      expect(view.rows.length).toBeLessThanOrEqual(30);
      expect(view.rows[0]!.id).toBe('server');
      expect(Object.values(view.legend).reduce((a, b) => a + b, 0)).toBe(1000);
      const drawn = Object.entries(view.legend).filter(([s]) => s !== 'offline' && s !== 'starting');
      expect(view.badges.reduce((a, b) => a + b, 0)).toBe(drawn.reduce((a, [, n]) => a + n, 0));
      // Throttled: about 10 snapshots a second, not one per event.
      const snapshots = await evaluate<number>(page, 'window.fedmktLive.snapshots');
      expect(snapshots).toBeLessThanOrEqual(Math.ceil(streamMs / 100) + 5);
      expect(await evaluate<number>(page, "document.querySelectorAll('#messages tbody tr').length")).toBeLessThanOrEqual(80);
      expect(views).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'live page of a population: a row per template, its clients per state adding up to the bar, and its part in the round',
    async () => {
      const scenario = parseScenario(population(4, 300, '{ perRound: 8, overcommit: 1.5 }', '', 3));
      const result = await runFederation(scenario, { learning: protocolOnlyLearningStack() });
      live = await LiveServer.start({ ...liveOptionsFromScenario(scenario), charts: liveCharts(scenario), intervalMs: 50 });
      const { page, errors } = await open(live.url);
      expect(await evaluate<boolean>(page, "document.getElementById('by-template').hidden")).toBe(true);
      // Mid-run: a column per state of the bar, its name whole (it may wrap where its words meet).
      const events = result.recorder.events;
      const middle = events.findIndex((e) => e.kind === 'state' && e.state === 'awaitLLMLogits' && e.round === 2);
      for (const e of events.slice(0, middle + 1)) live.push(e);
      await waitFor(page, `Number(document.body.dataset.seq) === ${live.snapshot().seq}`);
      const midHeader = await evaluate<string[]>(page, "Array.from(document.querySelectorAll('#templates thead th[data-state]')).map((th) => th.textContent)");
      expect(midHeader.sort()).toEqual(Object.keys((await evaluate<PageView>(page, VIEW)).legend).sort());
      expect(midHeader).toContain('awaitLLMLogits');
      for (const e of events.slice(middle + 1)) live.push(e);
      live.end();
      await waitFor(page, "document.getElementById('status').textContent === 'run ended'");
      const table = await evaluate<{
        header: string[];
        rows: { template: string; label: string; states: Record<string, number>; parts: Record<string, number> }[];
      }>(
        page,
        `(() => ({
          header: Array.from(document.querySelectorAll('#templates thead th')).map((th) => th.textContent),
          rows: Array.from(document.querySelectorAll('#templates tbody tr')).map((tr) => ({
            template: tr.dataset.template,
            label: tr.querySelector('td').firstChild.textContent + ' / ' + tr.querySelector('td .muted').textContent,
            states: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-state]')).map((td) => [td.dataset.state, Number(td.dataset.count)])),
            parts: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-part]')).map((td) => [td.dataset.part, Number(td.textContent)])),
          })),
        }))()`,
      );
      const view = await evaluate<PageView>(page, VIEW);
      const snap = live.snapshot();
      expect(await evaluate<boolean>(page, "document.getElementById('by-template').hidden")).toBe(false);
      expect(table.rows.map((r) => [r.template, r.label])).toEqual([
        ['0', 'template 0 / no model, gpt2'],
        ['1', 'template 1 / no model, llama2'],
      ]);
      expect(table.header.slice(0, 2)).toEqual(['template', 'clients']);
      expect(table.header.slice(-4)).toEqual(['announced', 'uploads', 'stragglers', 'dropouts']);
      // Each state of the bar is a column, and the templates' cells add up to its count.
      expect(Object.keys(view.legend).sort()).toEqual(Object.keys(table.rows[0]!.states).sort());
      for (const [state, n] of Object.entries(view.legend)) expect(table.rows.reduce((a, r) => a + (r.states[state] ?? 0), 0)).toBe(n);
      for (const [i, r] of table.rows.entries()) {
        const row = snap.templates!.rows[i]!;
        expect(Object.fromEntries(Object.entries(r.states).filter(([, n]) => n > 0))).toEqual(row.counts);
        expect(r.parts).toEqual({ announced: row.announced, uploads: row.uploads, stragglers: row.stragglers, dropouts: row.dropouts });
      }
      expect(table.rows.reduce((a, r) => a + (r.parts.announced ?? 0), 0)).toBe(12);
      expect(table.rows.reduce((a, r) => a + (r.parts.uploads ?? 0), 0)).toBe(8);
      const [scrollWidth, clientWidth] = await evaluate<[number, number]>(page, '[document.documentElement.scrollWidth, document.documentElement.clientWidth]');
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
      expect(errors).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'the after-run report renders its charts and table without console errors',
    async () => {
      for (const [name, clients] of [
        ['small', 6],
        ['aggregated', 60],
      ] as const) {
        const dir = tempDir(name);
        writeSyntheticRun(dir, { clients, rounds: 3, faults: true, baselines: true, seed: 7 });
        const page = await browser.newPage();
        const errors = watchErrors(page);
        await page.goto(pathToFileURL(writeReport(dir)).href);
        const info = await evaluate<{ charts: { w: number; h: number; marks: number }[]; tableRows: number; options: number }>(
          page,
          `(() => ({
            charts: Array.from(document.querySelectorAll('section svg')).map((s) => { const r = s.getBoundingClientRect(); return { w: r.width, h: r.height, marks: s.querySelectorAll('path,line,rect,circle,polygon,polyline').length }; }),
            tableRows: document.querySelectorAll('#metrics-table tr').length,
            options: document.querySelectorAll('#metrics-actor option').length,
          }))()`,
        );
        expect(info.charts.length).toBeGreaterThanOrEqual(3); // accuracy, bytes, timeline
        for (const c of info.charts.slice(0, 3)) {
          expect(c.w).toBeGreaterThan(100);
          expect(c.h).toBeGreaterThan(50);
          expect(c.marks).toBeGreaterThan(5);
        }
        expect(info.options).toBe(clients + 1);
        expect(info.tableRows).toBeGreaterThan(1);
        // The actor select redraws the metrics table.
        const first = await evaluate<string>(page, "document.querySelector('#metrics-table tr:nth-child(2)').textContent");
        await page.selectOption('#metrics-actor', { index: 1 });
        expect(await evaluate<string>(page, "document.querySelector('#metrics-table tr:nth-child(2)').textContent")).not.toBe(first);
        expect(errors).toEqual([]);
        await page.close();
      }
    },
    TEST_MS,
  );
});
