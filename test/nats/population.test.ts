/**
 * A population over NATS: the server's process selects, processes hosting parts of the
 * population bring the selected clients up (`serve --population-parts N`, `join
 * --population-part K/N`), on a real nats-server, with devices going offline mid-round. Also the
 * whole population in one process over NATS, and the usage errors.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runOverNats } from '../../actors/nats-deployment.js';
import { bigramLearningStack } from '../../actors/bigram-learning.js';
import { checkInvariants } from '../../core/invariants/check.js';
import { startNatsServer } from '../../core/nats/server-process.js';
import type { RoundMetrics, RunEvent } from '../../core/records.js';
import { loadScenario } from '../../core/scenario/load.js';
import { fedmktProcess as fedmkt, natsServerAvailable, waitFor } from './helpers.js';
import { watchEvents } from '../../actors/monitor.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';

const COUNT = 30;
const PER_ROUND = 4;
const ANNOUNCED = 6;
const ROUNDS = 3;

function scenarioFile(dir: string, seed: number, options: { rounds?: number; alwaysOn?: boolean } = {}): string {
  const file = join(dir, `population-${seed}.yaml`);
  writeFileSync(
    file,
    stringify({
      name: `pop-nats-${seed}`,
      seed,
      rounds: options.rounds ?? ROUNDS,
      task: { name: 'builtin', privateSamplesPerClient: 8, publicSamples: 16, testSamples: 20 },
      // Short deadlines: a device gone offline mid-round leaves the server waiting for them.
      protocol: { topK: 4, awaitSLMLogits: { deadlineMs: 3000, quorum: 0.5 }, awaitLLMLogits: { deadlineMs: 3000 } },
      server: { model: 'bigram', tokenizer: 'gpt2' },
      population: {
        count: COUNT,
        clients: [
          { weight: 0.5, model: 'bigram', tokenizer: 'gpt2', profile: { msPerTrainSample: 1 } },
          { weight: 0.5, model: 'bigram', tokenizer: 'llama2', profile: { msPerTrainSample: 1 } },
        ],
        // Wall-clock days of 4 s with sessions of about 0.6 s: some devices go offline mid-round.
        availability: options.alwaysOn ? 'always-on' : { diurnal: { periodMs: 4000, onlineFraction: 0.6, sessionMs: 600 } },
        evaluateClients: 2,
      },
      selection: { perRound: PER_ROUND, overcommit: ANNOUNCED / PER_ROUND, strategy: 'random' },
    }),
  );
  return file;
}

function jsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
}

describe.skipIf(!natsServerAvailable)('a population over NATS', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let dir: string;
  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'fedmkt-pop-nats-'));
  });
  afterAll(async () => {
    await nats?.stop();
  });

  // Never one seed: each seed draws other clients, templates, shards and availability.
  for (const seed of [11, 12, 13])
    it(`split over two hosting processes, seed ${seed}: each selected client runs in its part, every round's uploads are counted once`, {
      timeout: 120_000,
    }, async () => {
      const file = scenarioFile(dir, seed);
      const out = (name: string) => join(dir, `${seed}-${name}`);
      const procs = [
        fedmkt(['join', file, '--population-part', '0/2', '--nats', nats.url, '--out', out('p0'), '--quiet']),
        fedmkt(['join', file, '--population-part', '1/2', '--nats', nats.url, '--out', out('p1'), '--quiet']),
        fedmkt(['serve', file, '--population-parts', '2', '--nats', nats.url, '--out', out('server'), '--quiet']),
      ];
      try {
        const codes = await Promise.all(procs.map((p) => p.exit));
        expect(codes, procs.map((p) => p.output()).join('\n----\n')).toEqual([0, 0, 0]);
      } finally {
        for (const p of procs) p.child.kill();
      }
      const server = jsonl<RunEvent>(join(out('server'), 'events.jsonl'));
      const parts = [0, 1].map((k) => jsonl<RunEvent>(join(out(`p${k}`), 'events.jsonl')));
      // A part hosts only its own clients: index K mod 2.
      for (const k of [0, 1]) expect(parts[k]!.filter((e) => Number(e.actor.slice(1)) % 2 !== k)).toEqual([]);
      expect(server.filter((e) => e.kind === 'state').at(-1)!.state).toBe('done');
      const selections = server.filter((e) => e.kind === 'selection');
      expect(selections.map((e) => e.round)).toEqual([1, 2, 3]);
      for (const selection of selections) {
        const round = selection.round;
        const clients = selection.clients as string[];
        expect(clients.length).toBeGreaterThan(0);
        expect(clients.length).toBeLessThanOrEqual(ANNOUNCED);
        // Each selected client was up in the process hosting its index: it heard the announcement,
        // or its device went offline first (while the server was in this round).
        const from = server.find((e) => e.kind === 'state' && e.state === 'announceRound' && e.round === round)!.t;
        const to = server.find((e) => e.kind === 'state' && e.state === 'announceRound' && e.round === round + 1)?.t ?? Number.POSITIVE_INFINITY;
        for (const id of clients) {
          const k = Number(id.slice(1)) % 2;
          const up = parts[k]!.some(
            (e) =>
              e.actor === id &&
              ((e.kind === 'accepted' && e.message === 'round-start' && e.round === round) || (e.kind === 'dropout' && e.t > from && e.t < to)),
          );
          expect(up, `${id} in part ${k}, round ${round}`).toBe(true);
        }
        const accepted = server.filter((e) => e.kind === 'accepted' && e.message === 'slm-logits' && e.round === round);
        expect(new Set(accepted.map((e) => e.sender)).size).toBe(accepted.length);
        expect(accepted.every((e) => clients.includes(e.sender as string))).toBe(true);
        expect(accepted.length).toBeLessThanOrEqual(PER_ROUND);
      }
      // The whole federation's trace, merged in time, keeps the protocol's invariants (`selected` included).
      const merged = [...server, ...parts.flat()].sort((a, b) => a.t - b.t);
      expect(checkInvariants(merged, { clients: [], population: true, quorum: 2, acceptWithinRounds: 0 })).toEqual([]);
      // Devices offline mid-round drop out; the server's figures count what the parts recorded, no more.
      const metrics = jsonl<RoundMetrics>(join(out('server'), 'metrics.jsonl')).filter((m) => m.round > 0);
      for (const m of metrics) {
        const recorded = parts.flat().filter((e) => e.kind === 'dropout' && e.cause === 'availability' && e.round === m.round).length;
        expect(m.dropouts as number).toBeLessThanOrEqual(recorded);
        expect(m.announced).toBe((selections.find((s) => s.round === m.round)!.clients as string[]).length);
      }
    });

  it('goes on without a hosting process that is killed: its clients are out of reach, the other part takes every round', { timeout: 120_000 }, async () => {
    const file = scenarioFile(dir, 41, { rounds: 4, alwaysOn: true });
    const out = (name: string) => join(dir, `41-${name}`);
    const observer = await NatsTransport.connect({ servers: nats.url });
    const seen: RunEvent[] = [];
    watchEvents(observer, 'pop-nats-41', (e) => seen.push(e));
    const parts = [0, 1].map((k) => fedmkt(['join', file, '--population-part', `${k}/2`, '--nats', nats.url, '--out', out(`p${k}`), '--quiet']));
    const server = fedmkt(['serve', file, '--population-parts', '2', '--population-timeout', '1', '--nats', nats.url, '--out', out('server'), '--quiet']);
    try {
      await waitFor('round 1 to end', () => seen.some((e) => e.actor === 'server' && e.kind === 'state' && e.state === 'roundEnd' && e.round === 1), 60_000);
      parts[1]!.child.kill('SIGKILL');
      const codes = await Promise.all([server.exit, parts[0]!.exit]);
      expect(codes, `${server.output()}\n----\n${parts[0]!.output()}`).toEqual([0, 0]);
    } finally {
      for (const p of [server, ...parts]) p.child.kill();
      await observer.close();
    }
    expect(server.output()).toMatch(/population part 1 did not answer the status request of round \d within 1 s/);
    const events = jsonl<RunEvent>(join(out('server'), 'events.jsonl'));
    expect(events.filter((e) => e.kind === 'state').at(-1)!.state).toBe('done');
    // From round 3 on, certainly after the kill, only part 0's clients (even indices) are chosen, and enough of them upload.
    for (const round of [3, 4]) {
      const clients = events.find((e) => e.kind === 'selection' && e.round === round)!.clients as string[];
      expect(clients.length).toBe(ANNOUNCED);
      expect(clients.filter((id) => Number(id.slice(1)) % 2 !== 0)).toEqual([]);
      expect(events.filter((e) => e.kind === 'accepted' && e.message === 'slm-logits' && e.round === round)).toHaveLength(PER_ROUND);
    }
  });

  it('runs whole in one process over NATS: selection, uploads and invariants as locally', { timeout: 120_000 }, async () => {
    const scenario = loadScenario(scenarioFile(dir, 21));
    const result = await runOverNats(scenario, { servers: nats.url, learning: bigramLearningStack() });
    expect(result.finalStates.server).toBe('done');
    expect(result.violations).toEqual([]);
    const events = result.recorder.events;
    expect(events.filter((e) => e.kind === 'selection')).toHaveLength(ROUNDS);
    // No upload is lost to the announcement still going out when a fast client answers: none is
    // ignored as late in its own round before collection opened.
    for (let round = 1; round <= ROUNDS; round++) {
      const opened = events.find((e) => e.actor === 'server' && e.kind === 'state' && e.round === round && e.state !== 'announceRound')!.t;
      const lost = events.filter((e) => e.kind === 'ignored' && e.message === 'slm-logits' && e.round === round && e.atRound === round && e.t < opened);
      expect(lost).toEqual([]);
    }
    const metrics = result.recorder.metrics.filter((m) => m.actor === 'server' && m.round > 0);
    expect(metrics).toHaveLength(ROUNDS);
    for (const m of metrics) {
      expect(m.uploads as number).toBeGreaterThanOrEqual(2);
      expect(m.uploads as number).toBeLessThanOrEqual(PER_ROUND);
    }
  });

  it('refuses what a split population cannot do, naming the flag (exit 2)', { timeout: 60_000 }, async () => {
    const file = scenarioFile(dir, 31);
    const cases: [string[], RegExp][] = [
      [['join', file, '--population-part', '2/2', '--nats', nats.url], /expected K\/N with 0 <= K < N/],
      [['serve', file, '--nats', nats.url], /--population-parts N/],
      [['join', file, '--client', 'c1', '--population-part', '0/2', '--nats', nats.url], /--client ID .* or --population-part K\/N/],
      [['join', 'scenarios/nats-small.yaml', '--population-part', '0/2', '--nats', nats.url], /lists its clients/],
    ];
    for (const [args, message] of cases) {
      const p = fedmkt(args);
      expect(await p.exit, args.join(' ')).toBe(2);
      expect(p.output()).toMatch(message);
    }
  });
});
