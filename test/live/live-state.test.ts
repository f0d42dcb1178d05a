import { describe, expect, it } from 'vitest';
import { LiveState } from '../../apps/live/live-state.js';
import type { LiveEvent } from '../../apps/live/snapshot.js';
import { liveCharts, liveOptionsFromScenario, reportedName } from '../../apps/live/statecharts.js';
import { connectStately, stateValueOf } from '../../apps/live/stately.js';
import { machineByName } from '../../actors/machine-inputs.js';
import { machineGraph } from '../../apps/diagram/index.js';
import { syntheticRun } from '../../apps/report/synthetic.js';
import { tinyScenario } from '../federation/tiny-scenario.js';

const ev = (t: number, actor: string, round: number, kind: string, rest: Record<string, unknown> = {}): LiveEvent => ({ t, actor, round, kind, ...rest });

describe('LiveState: what the live page is told', () => {
  it('follows the server collecting uploads: k of n, quorum, deadline, outcome', () => {
    const s = new LiveState({
      actors: [
        { id: 'server', role: 'server' },
        { id: 'c1', role: 'client' },
        { id: 'c2', role: 'client' },
        { id: 'c3', role: 'client' },
      ],
      quorum: 2,
      deadlines: { server: { awaitSLMLogits: 10_000 }, client: { awaitLLMLogits: 30_000 } },
    });
    s.push(ev(0, 'server', 1, 'state', { state: 'awaitSLMLogits' }));
    s.push(ev(100, 'c1', 1, 'state', { state: 'awaitLLMLogits' }));
    s.push(ev(200, 'server', 1, 'deliver', { type: 'slm-logits', id: 'c1:1', from: 'c1', msgRound: 1, bytes: 500 }));
    s.push(ev(200, 'server', 1, 'accepted', { messageId: 'c1:1', sender: 'c1', message: 'slm-logits' }));
    // The same upload again (a duplicate) counts once.
    s.push(ev(201, 'server', 1, 'accepted', { messageId: 'c1:1', sender: 'c1', message: 'slm-logits' }));
    let snap = s.snapshot();
    expect(snap.collection).toMatchObject({
      round: 1,
      message: 'slm-logits',
      open: true,
      received: 1,
      expected: 3,
      needed: 2,
      openedAt: 0,
      deadlineAt: 10_000,
    });
    expect(snap.actors.rows.find((r) => r.id === 'c1')).toMatchObject({ state: 'awaitLLMLogits', deadlineAt: 30_100 });
    s.push(ev(10_000, 'server', 1, 'deadline', { state: 'awaitSLMLogits' }));
    s.push(ev(10_000, 'server', 1, 'quorum', { accepted: 1, needed: 2, outcome: 'skip-round' }));
    s.push(ev(10_000, 'server', 1, 'state', { state: 'roundSkipped' }));
    snap = s.snapshot();
    expect(snap.collection).toMatchObject({ open: false, closedAt: 10_000, deadlineFired: true, outcome: 'skip-round' });
    expect(snap.rounds.find((r) => r.round === 1)).toMatchObject({ uploads: 1, outcome: 'skip-round' });
    expect(snap.faults.map((f) => f.kind)).toEqual(['deadline', 'quorum']);
    expect(snap.now).toBe(10_000);
  });

  it("counts a NATS deployment's repeated handshakes (presence, resume offer and cut) as neither faults nor rows", () => {
    const s = new LiveState({ recentMessages: 10, recentFaults: 5 });
    for (let t = 0; t < 5; t++) {
      s.push(ev(t * 500, 'c1', 0, 'presence'));
      s.push(ev(t * 500, 'c1', 0, 'resume-offer', { rounds: [1, 2] }));
      s.push(ev(t * 500, 'server', 0, 'resume-cut', { afterRound: 2 }));
    }
    s.push(ev(3000, 'c2', 1, 'drop', { type: 'llm-logits', id: 'server:3', from: 'server', cause: 'messages[0]' }));
    const snap = s.snapshot();
    expect(snap.faults.map((f) => f.kind)).toEqual(['drop']);
    expect(snap.actors.rows.find((a) => a.id === 'c1')?.faults).toBe(0);
    expect(snap.byKind.presence).toBe(5);
  });

  it('marks delayed and duplicated deliveries, and keeps the lists bounded', () => {
    const s = new LiveState({ recentMessages: 10, recentFaults: 5 });
    s.push(ev(0, 'c1', 1, 'send', { type: 'slm-logits', id: 'c1:1', bytes: 10 }));
    s.push(ev(5, 'server', 1, 'delay', { type: 'slm-logits', id: 'c1:1', from: 'c1', ms: 400 }));
    s.push(ev(5, 'server', 1, 'duplicate', { type: 'slm-logits', id: 'c1:1', from: 'c1', copies: 1 }));
    s.push(ev(405, 'server', 1, 'deliver', { type: 'slm-logits', id: 'c1:1', from: 'c1', bytes: 10 }));
    s.push(ev(405, 'server', 1, 'deliver', { type: 'slm-logits', id: 'c1:1', from: 'c1', bytes: 10 }));
    s.push(ev(406, 'c2', 1, 'drop', { type: 'llm-logits', id: 'server:3', from: 'server', cause: 'messages[0]' }));
    const snap = s.snapshot();
    const delivers = snap.messages.filter((m) => m.kind === 'deliver');
    expect(delivers.map((m) => m.marks)).toEqual([
      ['delay', 'duplicate'],
      ['delay', 'duplicate', 'again'],
    ]);
    expect(snap.messages.find((m) => m.kind === 'send')).toMatchObject({ from: 'c1', to: 'server' });
    expect(snap.messages.find((m) => m.kind === 'drop')).toMatchObject({ from: 'server', to: 'c2', note: 'messages[0]' });
    expect(snap.messages.find((m) => m.kind === 'delay')).toMatchObject({ note: '+400 ms' });
    for (let i = 0; i < 100; i++) s.push(ev(500 + i, 'c3', 1, 'crash', { state: 'trainPrivate' }));
    const later = s.snapshot();
    expect(later.messages.length).toBeLessThanOrEqual(10);
    expect(later.faults.length).toBe(5);
    expect(later.actors.rows.find((r) => r.id === 'c3')).toMatchObject({ down: 'crash', faults: 100 });
    expect(later.counts.client.offline).toBe(1);
  });

  it('aggregates 1000 clients by state and lists only a sample', () => {
    const run = syntheticRun({ clients: 1000, rounds: 1, seed: 2, faults: true });
    const s = new LiveState({ detailLimit: 40, sampleSize: 12 });
    const t0 = performance.now();
    for (const e of run.events) s.push(e);
    const foldMs = performance.now() - t0;
    const snap = s.snapshot();
    expect(snap.actors.total).toBe(1001);
    expect(snap.actors.detailed).toBe(false);
    expect(snap.actors.rows.length).toBeLessThanOrEqual(1 + 12 + 12);
    expect(snap.actors.rows[0]!.id).toBe('server');
    expect(Object.values(snap.counts.client).reduce((a, b) => a + b, 0)).toBe(1000);
    expect(JSON.stringify(snap).length).toBeLessThan(100_000);
    expect(foldMs).toBeLessThan(2000);
  });

  it('ignores the network pseudo-actor as a party but lists its partitions', () => {
    const s = new LiveState();
    s.push(ev(0, 'network', 0, 'partition', { phase: 'start', actors: ['c1'] }));
    const snap = s.snapshot();
    expect(snap.actors.total).toBe(0);
    expect(snap.faults[0]).toMatchObject({ kind: 'partition', note: 'start ["c1"]' });
  });
});

describe('statecharts for the live page', () => {
  it('maps every state name an actor reports to a node drawn in the SVG', () => {
    const charts = liveCharts(tinyScenario());
    for (const name of ['server', 'client'] as const) {
      const chart = charts[name];
      expect(chart.svg.startsWith('<svg')).toBe(true);
      expect(chart.svg).not.toContain('id="arrow"');
      for (const id of Object.values(chart.stateIds)) expect(chart.svg).toContain(`data-id="${id}"`);
    }
    expect(charts.client.stateIds.trainPrivate).toBe('client.round.trainPrivate');
    expect(charts.client.stateIds['fedAvg.awaitAverage']).toBe('client.round.fedAvg.awaitAverage');
    expect(charts.server.stateIds.done).toBe('server.done');
    expect(charts.client.ancestors['client.round.fedAvg.awaitAverage']).toEqual(['client.round.fedAvg', 'client.round']);
    const graph = machineGraph(machineByName('server'));
    expect(reportedName(graph, 'server.round.awaitSLMLogits')).toBe('awaitSLMLogits');
  });

  it('takes actors, quorum and deadlines from a scenario', () => {
    const o = liveOptionsFromScenario(tinyScenario());
    expect(o.actors?.map((a) => a.id)).toEqual(['server', 'c1', 'c2', 'c3']);
    expect(o.quorum).toBe(2);
    expect(o.deadlines?.server?.awaitSLMLogits).toBe(600_000);
  });

  it('turns reported state names back into state values (for the Stately bridge)', () => {
    expect(stateValueOf(machineByName('client'), 'trainPrivate')).toEqual({ round: 'trainPrivate' });
    expect(stateValueOf(machineByName('client'), 'fedAvg.awaitAverage')).toEqual({ round: { fedAvg: 'awaitAverage' } });
    expect(stateValueOf(machineByName('server'), 'done')).toBe('done');
  });

  it('skips the Stately bridge cleanly when @statelyai/inspect is not installed', async () => {
    const name = '@statelyai/inspect';
    const installed = await import(name).then(
      () => true,
      () => false,
    );
    if (installed) return;
    const lines: string[] = [];
    expect(await connectStately({ log: (l) => lines.push(l) })).toBeNull();
    expect(lines).toEqual([expect.stringMatching(/not installed.*skipped/)]);
  });
});
