/**
 * A synthetic run directory shaped like what the actors record (events.jsonl, metrics.jsonl,
 * scenario.yaml), without training anything: for report tests, benchmarks and demos.
 * Timings follow the scenario profile's defaults (20 ms per training sample, 100 Mbit/s,
 * 20 ms latency) with a seeded speed per client; optional faults exercise every marker.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoundMetrics } from '../../core/records.js';
import type { RecordedEvent } from './read-run.js';
import { Random } from '../../core/random.js';

export interface SyntheticRunOptions {
  clients: number;
  rounds: number;
  seed?: number;
  /** Homogeneous setting: adapters uploaded and averaged every round (default true). */
  fedAvg?: boolean;
  /** Add a late upload, a dropped message, a duplicate, a corrupt message, a delay and a crash. */
  faults?: boolean;
  /** Add `baseline` rows (standalone per client, LLM-ZS for the server) to the metrics. */
  baselines?: boolean;
  publicSamples?: number;
  privateSamples?: number;
}

export interface SyntheticRun {
  events: RecordedEvent[];
  metrics: RoundMetrics[];
  scenarioText: string;
}

export function syntheticRun(options: SyntheticRunOptions): SyntheticRun {
  const run = new SyntheticRecorder(options);
  run.zeroShot();
  for (let r = 1; r <= options.rounds; r++) run.round(r);
  run.finish();
  if (options.baselines) run.baselines();
  const order = run.events.map((e, i) => [e.t, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { events: order.map(([, i]) => run.events[i]!), metrics: run.metrics, scenarioText: run.scenarioText() };
}

const TEST_SAMPLES = 120;
const asAccuracy = (p: number) => Math.round(p * TEST_SAMPLES) / TEST_SAMPLES;
/** Milliseconds to move `bytes` at 100 Mbit/s. */
const transfer = (bytes: number) => (bytes * 8) / (100 * 1000);
const ADAPTER_BYTES = 96 * 1024;

/** An upload on its way to the server. */
interface Arrival {
  client: string;
  t: number;
  id: string;
  bytes: number;
}

/** The run as it is made up, phase by phase: the draws of one seeded stream, in a fixed order. */
class SyntheticRecorder {
  readonly events: RecordedEvent[] = [];
  readonly metrics: RoundMetrics[] = [];
  private readonly K: number;
  private readonly R: number;
  private readonly fedAvg: boolean;
  private readonly faults: boolean;
  private readonly pub: number;
  private readonly priv: number;
  private readonly rng: Random;
  private readonly ids: string[];
  private readonly speed: number[];
  private readonly latency: number[];
  private readonly seq = new Map<string, number>();
  private readonly sent = new Map<string, number>();
  private readonly received = new Map<string, number>();
  private readonly roundStartT = new Map<string, number>();
  private readonly clientBase: number[];
  private readonly clientGain: number[];
  private readonly logitBytes: number;
  /** When each client is next free. */
  private readonly clientFree: number[];
  private readonly crashed = new Set<string>();
  /** The server's clock: the start of the next round, then the end of the last. */
  private T = 2000;

  constructor(private readonly options: SyntheticRunOptions) {
    this.K = options.clients;
    this.R = options.rounds;
    this.fedAvg = options.fedAvg ?? true;
    this.faults = options.faults ?? false;
    this.pub = options.publicSamples ?? 64;
    this.priv = options.privateSamples ?? 128;
    this.rng = Random.stream(options.seed ?? 0, 'synthetic-run');
    this.ids = Array.from({ length: this.K }, (_, i) => `client-${i + 1}`);
    this.speed = this.ids.map(() => 0.6 + 1.2 * this.rng.next());
    this.latency = this.ids.map(() => 15 + 20 * this.rng.next());
    this.clientBase = this.ids.map(() => 0.22 + 0.08 * this.rng.next());
    this.clientGain = this.ids.map(() => 0.2 + 0.15 * this.rng.next());
    this.clientFree = this.ids.map(() => 0);
    this.logitBytes = this.pub * 32 * 16 * 8 + 4096;
  }

  private stateAt(t: number, actor: string, round: number, state: string): void {
    this.events.push({ t: Math.round(t), actor, round, kind: 'state', state });
  }

  private send(t: number, actor: string, round: number, type: string, bytes: number): string {
    const n = (this.seq.get(actor) ?? 0) + 1;
    this.seq.set(actor, n);
    const id = `${actor}:${n}`;
    this.events.push({ t: Math.round(t), actor, round, kind: 'send', type, id, subject: `fedmkt.synthetic.r${round}.${type}.${actor}`, bytes });
    this.sent.set(actor, (this.sent.get(actor) ?? 0) + bytes);
    return id;
  }

  private deliver(t: number, actor: string, round: number, type: string, id: string, from: string, msgRound: number, bytes: number): void {
    this.events.push({ t: Math.round(t), actor, round, kind: 'deliver', type, id, from, msgRound, bytes });
    this.received.set(actor, (this.received.get(actor) ?? 0) + bytes);
  }

  private accuracy(base: number, gain: number, r: number): number {
    return Math.min(1, Math.max(0, base + gain * (1 - Math.exp(-r / 3)) + (this.rng.next() - 0.5) * 0.04));
  }

  private metric(t: number, actor: string, role: 'server' | 'client', round: number, acc: number): void {
    const rng = this.rng;
    this.metrics.push({
      round,
      actor,
      role,
      accuracy: asAccuracy(acc),
      accuracyNorm: asAccuracy(Math.min(1, acc + 0.02 * rng.next())),
      publicCE: round === 0 ? null : 2.4 - 0.8 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1,
      trainLoss: role === 'client' && round > 0 ? 2.2 - 0.7 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1 : null,
      distillLoss: round > 0 ? 1.9 - 0.5 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1 : null,
      bytesUp: this.sent.get(actor) ?? 0,
      bytesDown: this.received.get(actor) ?? 0,
      virtualSeconds: (t - (this.roundStartT.get(actor) ?? 0)) / 1000,
    });
    this.sent.set(actor, 0);
    this.received.set(actor, 0);
    this.roundStartT.set(actor, t);
  }

  zeroShot(): void {
    this.stateAt(0, 'server', 0, 'evaluateZeroShot');
    this.ids.forEach((c, i) => {
      this.stateAt(0, c, 0, 'evaluateZeroShot');
      const end = 400 * this.speed[i]!;
      this.metric(end, c, 'client', 0, this.clientBase[i]!);
      this.stateAt(end, c, 0, 'waitForRound');
      this.clientFree[i] = end;
    });
    this.metric(this.T, 'server', 'server', 0, 0.3);
  }

  round(r: number): void {
    const T = this.T;
    this.stateAt(T, 'server', r, 'announceRound');
    const startId = this.send(T + 1, 'server', r, 'round-start', 180);
    this.stateAt(T + 3, 'server', r, 'awaitSLMLogits');
    const deadline = T + 3 + 600_000;
    const awaitStart = new Map<string, number>();
    const arrivals = this.uploads(r, startId, deadline, awaitStart);
    const collected = this.collect(r, arrivals, deadline);
    let tServer = this.serverDistils(r, collected.tServer, collected.inTime);
    const llmBytes = this.logitBytes + 1024;
    const llmId = this.send(tServer, 'server', r, 'llm-logits', llmBytes);
    tServer += transfer(llmBytes);
    const adapterArrivals = this.clientsDistil(r, tServer, llmId, llmBytes, awaitStart);
    if (this.fedAvg) tServer = this.average(r, tServer, adapterArrivals, awaitStart);
    // Evaluations end the round.
    this.ids.forEach((c, i) => {
      if (this.crashed.has(c) || !awaitStart.has(c)) return;
      let t = this.clientFree[i]!;
      this.stateAt(t, c, r, 'roundEnd');
      t += 400 * this.speed[i]!;
      this.metric(t, c, 'client', r, this.accuracy(this.clientBase[i]!, this.clientGain[i]!, r));
      this.stateAt(t, c, r, 'waitForRound');
      this.clientFree[i] = t;
    });
    this.stateAt(tServer, 'server', r, 'roundEnd');
    tServer += 2000;
    this.metric(tServer, 'server', 'server', r, this.accuracy(0.3, 0.3, r));
    this.T = tServer;
  }

  /** Each client takes the announcement, trains, computes and uploads its logits (faults: a duplicate, a crash, a straggler). */
  private uploads(r: number, startId: string, deadline: number, awaitStart: Map<string, number>): Arrival[] {
    const { faults, K, R, pub, priv } = this;
    const arrivals: Arrival[] = [];
    this.ids.forEach((c, i) => {
      if (this.crashed.has(c)) return;
      const d = this.T + 1 + this.latency[i]! + transfer(180);
      this.deliver(d, c, r - 1, 'round-start', startId, 'server', r, 180);
      this.events.push({ t: Math.round(d), actor: c, round: r, kind: 'accepted', messageId: startId, sender: 'server', message: 'round-start' });
      if (faults && r === 1 && i === 0) {
        // The same announcement again: a transport duplicate the client ignores.
        this.events.push({ t: Math.round(d + 2), actor: c, round: r, kind: 'duplicate', id: startId, type: 'round-start', from: 'server' });
        this.deliver(d + 2, c, r, 'round-start', startId, 'server', r, 180);
        this.events.push({
          t: Math.round(d + 2),
          actor: c,
          round: r,
          kind: 'ignored',
          messageId: startId,
          sender: 'server',
          message: 'round-start',
          reason: 'duplicate',
          atRound: r,
        });
      }
      let t = Math.max(d, this.clientFree[i]!);
      this.stateAt(t, c, r, 'trainPrivate');
      t += priv * 20 * this.speed[i]!;
      if (faults && r === R && i === 2 && K > 3) {
        this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'crash', reason: 'synthetic crash during training' });
        this.stateAt(t, c, r, 'failed');
        this.crashed.add(c);
        return;
      }
      this.stateAt(t, c, r, 'computePublicLogits');
      t += (pub * 20 * this.speed[i]!) / 3;
      this.stateAt(t, c, r, 'uploadLogits');
      const bytes = this.logitBytes + Math.round(this.rng.next() * 2048);
      const upId = this.send(t, c, r, 'slm-logits', bytes);
      t += transfer(bytes);
      this.stateAt(t, c, r, 'awaitLLMLogits');
      awaitStart.set(c, t);
      let arrival = t + this.latency[i]!;
      if (faults && r === 2 && i === K - 1) {
        arrival = deadline + 5_000; // a straggler: after the deadline
        this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'delay', id: upId, type: 'slm-logits', ms: Math.round(arrival - t) });
      }
      arrivals.push({ client: c, t: arrival, id: upId, bytes });
    });
    return arrivals;
  }

  /** The server collects until everyone is in or the deadline passes: the time it stops and the uploads it accepted. */
  private collect(r: number, arrivals: Arrival[], deadline: number): { tServer: number; inTime: Arrival[] } {
    const inTime = arrivals.filter((a) => a.t <= deadline);
    let tServer = Math.max(this.T + 3, ...inTime.map((a) => a.t));
    for (const a of arrivals) {
      this.deliver(a.t, 'server', r, 'slm-logits', a.id, a.client, r, a.bytes);
      if (a.t <= deadline)
        this.events.push({ t: Math.round(a.t), actor: 'server', round: r, kind: 'accepted', messageId: a.id, sender: a.client, message: 'slm-logits' });
      else
        this.events.push({
          t: Math.round(a.t),
          actor: 'server',
          round: r,
          kind: 'ignored',
          messageId: a.id,
          sender: a.client,
          message: 'slm-logits',
          reason: 'late',
          atRound: r,
        });
    }
    if (inTime.length < arrivals.length || arrivals.length < this.ids.length - this.crashed.size) {
      tServer = deadline;
      this.events.push({
        t: Math.round(deadline),
        actor: 'server',
        round: r,
        kind: 'quorum',
        accepted: inTime.length,
        needed: Math.ceil(this.K / 2),
        outcome: 'proceed',
      });
    }
    return { tServer, inTime };
  }

  /** Alignment, distillation and the LLM's logits on the server; the time it broadcasts them. */
  private serverDistils(r: number, tServer: number, inTime: readonly Arrival[]): number {
    const { pub } = this;
    this.stateAt(tServer, 'server', r, 'alignSLMTokens');
    tServer += inTime.length * pub * 1;
    this.events.push({
      t: Math.round(tServer),
      actor: 'server',
      round: r,
      kind: 'selected',
      self: pub * 20,
      ...Object.fromEntries(inTime.slice(0, 3).map((a) => [a.client, 10])),
    });
    this.stateAt(tServer, 'server', r, 'distillFromSLMs');
    tServer += pub * 20 * 4;
    this.stateAt(tServer, 'server', r, 'computeLLMLogits');
    tServer += (pub * 20 * 4) / 3;
    this.stateAt(tServer, 'server', r, 'broadcastLLMLogits');
    return tServer;
  }

  /** Each client takes the LLM's logits (faults: one dropped, one corrupted) and distils; its adapter upload. */
  private clientsDistil(r: number, tServer: number, llmId: string, llmBytes: number, awaitStart: Map<string, number>): Omit<Arrival, 'bytes'>[] {
    const { faults, K, pub } = this;
    const adapterArrivals: Omit<Arrival, 'bytes'>[] = [];
    this.ids.forEach((c, i) => {
      if (this.crashed.has(c) || !awaitStart.has(c)) return;
      const arrival = tServer + this.latency[i]!;
      let t: number;
      if (faults && r === 1 && i === 1 && K > 2) {
        this.events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'drop', id: llmId, type: 'llm-logits', from: 'server' });
        t = awaitStart.get(c)! + 1_800_000;
        this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'deadline', state: 'awaitLLMLogits', action: 'self-distil' });
      } else if (faults && r === 1 && i === 3 && K > 4) {
        this.events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'corrupt', id: llmId, type: 'llm-logits', from: 'server' });
        this.events.push({
          t: Math.round(arrival),
          actor: c,
          round: r,
          kind: 'reject',
          subject: `fedmkt.synthetic.r${r}.llm-logits.server`,
          bytes: llmBytes,
          error: 'checksum mismatch',
        });
        t = awaitStart.get(c)! + 1_800_000;
        this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'deadline', state: 'awaitLLMLogits', action: 'self-distil' });
      } else {
        this.deliver(arrival, c, r, 'llm-logits', llmId, 'server', r, llmBytes);
        this.events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'accepted', messageId: llmId, sender: 'server', message: 'llm-logits' });
        t = Math.max(arrival, awaitStart.get(c)!);
        this.stateAt(t, c, r, 'alignLLMTokens');
        t += pub * 1;
        this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'alignment', from: 'server', exact: 0.8, mapped: 0.15 });
      }
      this.stateAt(t, c, r, 'distillFromLLM');
      t += pub * 20 * this.speed[i]!;
      this.events.push({ t: Math.round(t), actor: c, round: r, kind: 'selected', llm: Math.round(pub * 0.6), self: Math.round(pub * 0.4) });
      if (this.fedAvg) {
        this.stateAt(t, c, r, 'fedAvg.uploadAdapter');
        const id = this.send(t, c, r, 'adapter', ADAPTER_BYTES);
        t += transfer(ADAPTER_BYTES);
        this.stateAt(t, c, r, 'fedAvg.awaitAverage');
        adapterArrivals.push({ client: c, t: t + this.latency[i]!, id });
      }
      this.clientFree[i] = t;
    });
    return adapterArrivals;
  }

  /** FedAvg: the server averages the adapters and sends the average back; the time it is done. */
  private average(r: number, tServer: number, adapterArrivals: Omit<Arrival, 'bytes'>[], awaitStart: Map<string, number>): number {
    this.stateAt(tServer, 'server', r, 'fedAvg.awaitAdapters');
    for (const a of adapterArrivals) {
      this.deliver(a.t, 'server', r, 'adapter', a.id, a.client, r, ADAPTER_BYTES);
      this.events.push({ t: Math.round(a.t), actor: 'server', round: r, kind: 'accepted', messageId: a.id, sender: a.client, message: 'adapter' });
    }
    tServer = Math.max(tServer, ...adapterArrivals.map((a) => a.t));
    this.stateAt(tServer, 'server', r, 'fedAvg.averageAdapters');
    tServer += 40;
    const avgId = this.send(tServer, 'server', r, 'adapter-average', ADAPTER_BYTES);
    tServer += transfer(ADAPTER_BYTES);
    this.ids.forEach((c, i) => {
      if (this.crashed.has(c) || !awaitStart.has(c)) return;
      const arrival = tServer + this.latency[i]!;
      this.deliver(arrival, c, r, 'adapter-average', avgId, 'server', r, ADAPTER_BYTES);
      this.events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'accepted', messageId: avgId, sender: 'server', message: 'adapter-average' });
      const t = Math.max(arrival, this.clientFree[i]!);
      this.stateAt(t, c, r, 'fedAvg.applyAverage');
      this.clientFree[i] = t + 30;
    });
    return tServer;
  }

  finish(): void {
    const { R } = this;
    const finishedLast = this.R > 0 ? this.T : 0;
    this.stateAt(finishedLast, 'server', R, 'finishing');
    const finishId = this.send(finishedLast + 1, 'server', R, 'finish', 90);
    this.stateAt(finishedLast + 2, 'server', R, 'done');
    this.ids.forEach((c, i) => {
      if (this.crashed.has(c)) return;
      const arrival = finishedLast + 1 + this.latency[i]!;
      this.deliver(arrival, c, R, 'finish', finishId, 'server', R, 90);
      this.events.push({ t: Math.round(arrival), actor: c, round: R, kind: 'accepted', messageId: finishId, sender: 'server', message: 'finish' });
      this.stateAt(Math.max(arrival, this.clientFree[i]!), c, R, 'done');
    });
  }

  /** `baseline` rows: standalone per client, LLM-ZS for the server. */
  baselines(): void {
    const zero = { accuracyNorm: null, publicCE: null, trainLoss: null, distillLoss: null, bytesUp: 0, bytesDown: 0, virtualSeconds: 0 };
    for (let r = 0; r <= this.R; r++) {
      this.ids.forEach((c, i) =>
        this.metrics.push({
          round: r,
          actor: c,
          role: 'client',
          baseline: 'standalone',
          accuracy: asAccuracy(this.clientBase[i]! + 0.6 * this.clientGain[i]! * (1 - Math.exp(-r / 3))),
          ...zero,
        }),
      );
      this.metrics.push({ round: r, actor: 'server', role: 'server', baseline: 'LLM-ZS', accuracy: asAccuracy(0.3), ...zero });
    }
  }

  scenarioText(): string {
    const { K, R, ids } = this;
    return [
      `name: synthetic-${K}x${R}`,
      `description: synthetic run for report tests (${K} clients, ${R} rounds${this.faults ? ', with faults' : ''})`,
      `seed: ${this.options.seed ?? 0}`,
      `rounds: ${R}`,
      'protocol:',
      `  fedAvg: ${this.fedAvg}`,
      '  awaitSLMLogits:',
      '    deadlineMs: 600000',
      '    quorum: 0.5',
      'server:',
      '  model: { kind: tiny }',
      'clients:',
      ...ids.slice(0, Math.min(K, 50)).map((c) => `  - { id: ${c}, model: { kind: tiny } }`),
      ...(K > 50 ? [`  # ... ${K - 50} more clients`] : []),
      '',
    ].join('\n');
  }
}

/** Writes events.jsonl, metrics.jsonl and scenario.yaml of a synthetic run into `dir`. */
export function writeSyntheticRun(dir: string, options: SyntheticRunOptions): SyntheticRun {
  const run = syntheticRun(options);
  mkdirSync(dir, { recursive: true });
  const jsonl = (rows: readonly object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  writeFileSync(join(dir, 'events.jsonl'), jsonl(run.events));
  writeFileSync(join(dir, 'metrics.jsonl'), jsonl(run.metrics));
  writeFileSync(join(dir, 'scenario.yaml'), run.scenarioText);
  return run;
}
