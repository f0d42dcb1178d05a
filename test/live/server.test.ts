import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../core/nats/free-port.js';
import { LiveServer, liveCharts, replay, type LiveEvent, type LiveSnapshot } from '../../apps/live/index.js';
import { syntheticRun } from '../../apps/report/synthetic.js';
import { readSse, sleep } from './helpers.js';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let live: LiveServer | null = null;
afterEach(async () => {
  await live?.close();
  live = null;
});

describe('the live server', () => {
  it('serves a self-contained page on 127.0.0.1, the charts and snapshots, and nothing to foreign hosts', async () => {
    live = await LiveServer.start({ title: 'unit', charts: liveCharts() });
    expect(live.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(live.url);
    expect(page.status).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(page.body.startsWith('<!doctype html>')).toBe(true);
    expect(page.body).not.toMatch(/<script[^>]+src=/i);
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg['"])/i); // only the SVG namespace name
    expect(page.body).not.toMatch(/@import|@font-face|url\(/i);
    expect(page.body).not.toMatch(/<link(?![^>]*href="data:,")/i);
    const charts = JSON.parse((await get(`${live.url}charts.json`)).body) as Record<string, { svg: string }>;
    expect(Object.keys(charts)).toEqual(['server', 'client']);
    expect(charts.server!.svg).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const snap = JSON.parse((await get(`${live.url}snapshot.json`)).body) as LiveSnapshot;
    expect(snap).toMatchObject({ format: 'fedmkt-live/1', title: 'unit', events: 0 });
    expect((await get(`${live.url}nope`)).status).toBe(404);
    expect((await get(`${live.url}/snapshot.json`)).status).toBe(404);
    expect((await get(live.url, { host: 'attacker.example:80' })).status).toBe(403);
  });

  it('listens on the port asked for', async () => {
    const port = await freePort();
    live = await LiveServer.start({ port });
    expect(live.url).toBe(`http://127.0.0.1:${port}/`);
    await expect(LiveServer.start({ port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('throttles: a fast stream of 55,000 events reaches a browser as about 10 snapshots a second', async () => {
    live = await LiveServer.start({ intervalMs: 100 });
    const sse = readSse(`${live.url}events`);
    expect(await sse.status).toBe(200);
    const run = syntheticRun({ clients: 1000, rounds: 2, seed: 1 });
    const t0 = Date.now();
    await replay(run.events, (e) => live!.push(e), { batch: 500, intervalMs: 5 });
    const elapsed = Date.now() - t0;
    live.end({ text: 'over' });
    await sleep(200);
    sse.close();
    const snapshots = sse.messages.filter((m) => m.event === 'snapshot');
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
    expect(snapshots.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 3);
    const last = JSON.parse(snapshots[snapshots.length - 1]!.data) as LiveSnapshot;
    expect(last.events).toBe(run.events.length);
    expect(last.ended).toMatchObject({ text: 'over' });
    expect(Math.max(...snapshots.map((s) => s.data.length))).toBeLessThan(100_000);
    expect(sse.messages[sse.messages.length - 1]!.event).toBe('end');
  });

  it('takes events from any async source, and tells late browsers the run has ended', async () => {
    live = await LiveServer.start({ intervalMs: 20 });
    async function* source(): AsyncGenerator<LiveEvent> {
      for (let i = 0; i < 50; i++) {
        yield { t: i * 10, actor: `c${i % 5}`, round: 1, kind: 'state', state: i % 2 ? 'trainPrivate' : 'awaitLLMLogits' };
        if (i % 10 === 0) await sleep(1);
      }
    }
    await live.consume(source());
    expect(live.snapshot().events).toBe(50);
    live.end();
    const sse = readSse(`${live.url}events`);
    await sleep(150);
    sse.close();
    expect(sse.messages.map((m) => m.event)).toEqual(['snapshot', 'end']);
  });

  it('closes promptly with browsers still connected', async () => {
    live = await LiveServer.start();
    const sse = readSse(`${live.url}events`);
    await sse.status;
    expect(live.connections).toBe(1);
    const t0 = Date.now();
    await live.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    sse.close();
  });
});
