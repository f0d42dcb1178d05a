import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProperty } from '../../core/explore/properties.js';
import { freePort } from '../../core/nats/free-port.js';
import { type NatsServerHandle, startNatsServer } from '../../core/nats/server-process.js';
import { loadScenario } from '../../core/scenario/load.js';
import { explore, type SchedulePool } from '../../explore/explore.js';
import { EXPLORE_CONSUMER, EXPLORE_STREAM, joinExploration, natsPool, type NatsPoolOptions } from '../../explore/nats-queue.js';
import { reproduce } from '../../explore/reproduce.js';
import { runSchedule, type ExploreTarget } from '../../explore/runner.js';
import { seededScheduler } from '../../explore/strategies.js';
import { exploreTarget } from '../../explore/target.js';
import { natsServerAvailable, waitFor } from '../nats/helpers.js';

if (!natsServerAvailable) console.warn('test/explore/nats-queue.test.ts skipped: no nats-server (apt-get install nats-server, or set NATS_SERVER_BIN)');

const FILE = 'scenarios/explore-small.yaml';
/** Under quorum 2 of 3, a dropped or late upload (or a cut-off server) skips a round: about one schedule in eight. */
const PROPERTY = 'skippedRounds <= 0';
/** Short, so a killed worker's task comes back within the test. */
const ACK_WAIT_MS = 2_000;

interface WorkerProcess {
  child: ChildProcess;
  name: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnWorker(url: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'explore', '--join', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, name: `${hostname()}:${child.pid}`, stderr: () => text, exited };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const poolOptions = (lines: string[], more: Partial<NatsPoolOptions> = {}): NatsPoolOptions => ({
  file: FILE,
  kinds: null,
  properties: [PROPERTY],
  log: (line) => lines.push(line),
  ackWaitMs: ACK_WAIT_MS,
  ...more,
});

describe.skipIf(!natsServerAvailable)('distributed exploration over a JetStream work queue', () => {
  let server: NatsServerHandle;
  let workers: WorkerProcess[] = [];
  let out: string;
  let doc: Record<string, unknown> = {};
  const scenario = loadScenario(FILE, { onDocument: (d) => (doc = d) });
  let targetReady: Promise<ExploreTarget> | undefined;

  /** Explores through a fresh NATS pool, recording every index it hands back (sorted) and what it logs. */
  const exploreOver = async (budget: number, seed: number, more: Partial<NatsPoolOptions> = {}) => {
    const target = await (targetReady ??= exploreTarget(scenario, { properties: [parseProperty(PROPERTY)] }));
    const lines: string[] = [];
    const seen: number[] = [];
    const pool = await natsPool(server.url, poolOptions(lines, more));
    const counting: SchedulePool = {
      run: (indices, settings, strategy, each) =>
        pool.run(indices, settings, strategy, (index, outcome) => {
          seen.push(index);
          return each(index, outcome);
        }),
      close: () => pool.close(),
    };
    try {
      const result = await explore(target, { strategy: 'random', budget: { schedules: budget }, maxFaults: 2, seed, pool: counting });
      return { target, result, lines, seen: seen.sort((a, b) => a - b), id: /^exploration (\w+):/.exec(lines[0] ?? '')?.[1] };
    } finally {
      await pool.close();
    }
  };

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'fedmkt-explore-nats-'));
    server = await startNatsServer({ jetstream: true });
    // Whoever opens the queue first sets the workers' ack wait: here, before any worker runs.
    await (await natsPool(server.url, poolOptions([]))).close();
    workers = [spawnWorker(server.url), spawnWorker(server.url)];
    await waitFor('both workers to join', () => workers.every((w) => w.stderr().includes('takes schedules from')), 60_000);
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await server?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('names what is missing: no server at the URL, or a server without JetStream', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    await expect(natsPool(url, poolOptions([]))).rejects.toThrow(`no NATS server answers at ${url}`);
    const plain = await startNatsServer();
    try {
      await expect(natsPool(plain.url, poolOptions([]))).rejects.toThrow(/has no JetStream.*start nats-server with -js/);
      await expect(joinExploration(plain.url, { log: () => undefined })).rejects.toThrow(/has no JetStream.*start nats-server with -js/);
    } finally {
      await plain.stop();
    }
  });

  it('shares the schedules between two worker processes, merges what they send and reproduces a failure they found', async () => {
    const byWorker = new Map<string, number>();
    const { target, result, lines, seen } = await exploreOver(200, 0, { onOutcome: (w) => byWorker.set(w, (byWorker.get(w) ?? 0) + 1) });
    // Batches up to the budget: the local baseline, then 199 schedules, each once.
    expect(seen).toEqual(range(1, 199));
    expect(result.schedules).toBe(200);
    expect(result.coverage.runs).toBe(200);
    expect([...byWorker.keys()].sort()).toEqual(workers.map((w) => w.name).sort());
    for (const n of byWorker.values()) expect(n).toBeGreaterThan(0);
    expect(lines.some((l) => workers.every((w) => l.includes(`schedules per worker`) && l.includes(w.name)))).toBe(true);

    expect(result.failures.length).toBeGreaterThan(0);
    const failure = result.failures[0]!;
    expect(failure.finding.property).toBe(PROPERTY);
    expect(failure.schedule).toBeGreaterThan(0);
    // The remote run is the run this process makes of the same index: same choices, same finding.
    const local = await runSchedule(target, seededScheduler('random', result.settings, failure.schedule));
    expect(JSON.parse(JSON.stringify(local.made))).toEqual(failure.made);
    expect(local.findings).toContainEqual(failure.finding);

    const dir = join(out, 'failure-1');
    const rep = await reproduce(target, failure, doc, dir);
    expect(rep.finding.property).toBe(PROPERTY);
    for (const f of ['scenario.yaml', 'schedule.json', 'failure.md']) expect(existsSync(join(dir, f)), f).toBe(true);
  });

  it("fails with a worker's own message when it cannot build the target", async () => {
    const pool = await natsPool(server.url, poolOptions([], { properties: ['skippedRounds <> 1'] }));
    try {
      const settings = { seed: 0, maxFaults: 1, depth: 3, faultPoints: 10, steps: 10 };
      await expect(pool.run(range(1, 8), settings, 'random', () => undefined)).rejects.toThrow(
        /explore worker .+ failed: schedules \d+\.\.\d+ of \w+: --expect "skippedRounds <> 1": expected completed/,
      );
    } finally {
      await pool.close();
    }
  });

  it('completes when a worker is killed holding a task: the task is redelivered to the other', async () => {
    let victim: WorkerProcess | undefined;
    // Killed as its first outcome is taken, before the reply that lets it acknowledge the task.
    const onOutcome = (name: string) => {
      if (victim) return;
      victim = workers.find((w) => w.name === name);
      victim?.child.kill('SIGKILL');
    };
    const { result, lines, seen, id } = await exploreOver(65, 3, { onOutcome });
    expect(seen).toEqual(range(1, 64));
    expect(result.coverage.runs).toBe(65);
    expect(id).toBeDefined();
    expect(victim).toBeDefined();
    expect((await victim!.exited).signal).toBe('SIGKILL');
    const survivor = workers.find((w) => w !== victim)!;
    expect(survivor.stderr()).toContain(`of ${id} delivered again (delivery 2)`);
    expect(lines.some((l) => /came again \(redelivered tasks\) and were dropped/.test(l))).toBe(true);

    // A signal stops a worker cleanly.
    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toEqual({ code: 0, signal: null });
    expect(survivor.stderr()).toMatch(/stops after \d+ schedules/);
  });

  // After the test above, no worker process is left: this one's worker runs in this process.
  it('hands out again what was lost: a task acknowledged without its outcomes', async () => {
    const lines: string[] = [];
    const pool = await natsPool(server.url, poolOptions(lines, { stallMs: 1_000 }));
    const nc = await connect({ servers: server.url });
    const stop = new AbortController();
    let joined: Promise<void> | undefined;
    try {
      const seen: number[] = [];
      const settings = { seed: 5, maxFaults: 2, depth: 3, faultPoints: 40, steps: 120 };
      const running = pool.run(range(1, 8), settings, 'random', (i) => seen.push(i));
      const consumer = await jetstream(nc).consumers.get(EXPLORE_STREAM, EXPLORE_CONSUMER);
      const eaten = await consumer.next({ expires: 5_000 });
      expect(eaten).not.toBeNull();
      eaten!.ack();
      const workerLines: string[] = [];
      joined = joinExploration(server.url, { log: (l) => workerLines.push(l), signal: stop.signal, name: 'in-process' });
      await running;
      expect(seen.sort((a, b) => a - b)).toEqual(range(1, 8));
      expect(lines.some((l) => l.includes('no task left in the queue: handing out the 4 missing schedule(s) again'))).toBe(true);
      stop.abort();
      await joined;
      expect(workerLines.at(-1)).toBe('worker in-process stops after 8 schedules');
    } finally {
      stop.abort();
      await joined?.catch(() => undefined);
      await nc.close();
      await pool.close();
    }
  });
});
