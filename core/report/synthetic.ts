/**
 * A synthetic run directory shaped like what the actors record (events.jsonl, metrics.jsonl,
 * scenario.yaml), without training anything: for report tests, benchmarks and demos.
 * Timings follow the scenario profile's defaults (20 ms per training sample, 100 Mbit/s,
 * 20 ms latency) with a seeded speed per client; optional faults exercise every marker.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoundMetrics } from '../records.js';
import type { RecordedEvent } from './read-run.js';
import { Random } from '../random.js';

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
  const { clients: K, rounds: R } = options;
  const fedAvg = options.fedAvg ?? true;
  const faults = options.faults ?? false;
  const pub = options.publicSamples ?? 64;
  const priv = options.privateSamples ?? 128;
  const rng = Random.stream(options.seed ?? 0, 'synthetic-run');
  const ids = Array.from({ length: K }, (_, i) => `client-${i + 1}`);
  const speed = ids.map(() => 0.6 + 1.2 * rng.next());
  const latency = ids.map(() => 15 + 20 * rng.next());
  const events: RecordedEvent[] = [];
  const metrics: RoundMetrics[] = [];
  const seq = new Map<string, number>();
  const sent = new Map<string, number>();
  const received = new Map<string, number>();
  const stateAt = (t: number, actor: string, round: number, state: string) => events.push({ t: Math.round(t), actor, round, kind: 'state', state });
  const send = (t: number, actor: string, round: number, type: string, bytes: number): string => {
    const n = (seq.get(actor) ?? 0) + 1;
    seq.set(actor, n);
    const id = `${actor}:${n}`;
    events.push({ t: Math.round(t), actor, round, kind: 'send', type, id, subject: `fedmkt.synthetic.r${round}.${type}.${actor}`, bytes });
    sent.set(actor, (sent.get(actor) ?? 0) + bytes);
    return id;
  };
  const deliver = (t: number, actor: string, round: number, type: string, id: string, from: string, msgRound: number, bytes: number) => {
    events.push({ t: Math.round(t), actor, round, kind: 'deliver', type, id, from, msgRound, bytes });
    received.set(actor, (received.get(actor) ?? 0) + bytes);
  };
  const transfer = (bytes: number) => (bytes * 8) / (100 * 1000); // ms at 100 Mbit/s
  const accuracy = (base: number, gain: number, r: number) => Math.min(1, Math.max(0, base + gain * (1 - Math.exp(-r / 3)) + (rng.next() - 0.5) * 0.04));
  const testSamples = 120;
  const asAccuracy = (p: number) => Math.round(p * testSamples) / testSamples;
  const roundStartT = new Map<string, number>();
  const metric = (t: number, actor: string, role: 'server' | 'client', round: number, acc: number, extra: Partial<RoundMetrics> = {}) => {
    metrics.push({
      round,
      actor,
      role,
      accuracy: asAccuracy(acc),
      accuracyNorm: asAccuracy(Math.min(1, acc + 0.02 * rng.next())),
      publicCE: round === 0 ? null : 2.4 - 0.8 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1,
      trainLoss: role === 'client' && round > 0 ? 2.2 - 0.7 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1 : null,
      distillLoss: round > 0 ? 1.9 - 0.5 * (1 - Math.exp(-round / 3)) + rng.next() * 0.1 : null,
      bytesUp: sent.get(actor) ?? 0,
      bytesDown: received.get(actor) ?? 0,
      virtualSeconds: (t - (roundStartT.get(actor) ?? 0)) / 1000,
      ...extra,
    });
    sent.set(actor, 0);
    received.set(actor, 0);
    roundStartT.set(actor, t);
  };
  const clientBase = ids.map(() => 0.22 + 0.08 * rng.next());
  const clientGain = ids.map(() => 0.2 + 0.15 * rng.next());

  // Zero-shot evaluation.
  stateAt(0, 'server', 0, 'evaluateZeroShot');
  const clientFree = ids.map(() => 0);
  ids.forEach((c, i) => {
    stateAt(0, c, 0, 'evaluateZeroShot');
    const end = 400 * speed[i]!;
    metric(end, c, 'client', 0, clientBase[i]!);
    stateAt(end, c, 0, 'waitForRound');
    clientFree[i] = end;
  });
  let T = 2000;
  metric(T, 'server', 'server', 0, 0.3);
  const crashed = new Set<string>();
  const logitBytes = pub * 32 * 16 * 8 + 4096;
  const adapterBytes = 96 * 1024;
  let finishedLast = 0;

  for (let r = 1; r <= R; r++) {
    stateAt(T, 'server', r, 'announceRound');
    const startId = send(T + 1, 'server', r, 'round-start', 180);
    stateAt(T + 3, 'server', r, 'awaitSLMLogits');
    const deadline = T + 3 + 600_000;
    const arrivals: { client: string; t: number; id: string; bytes: number }[] = [];
    const awaitStart = new Map<string, number>();
    ids.forEach((c, i) => {
      if (crashed.has(c)) return;
      const d = T + 1 + latency[i]! + transfer(180);
      deliver(d, c, r - 1, 'round-start', startId, 'server', r, 180);
      events.push({ t: Math.round(d), actor: c, round: r, kind: 'accepted', messageId: startId, sender: 'server', message: 'round-start' });
      if (faults && r === 1 && i === 0) {
        // The same announcement again: a transport duplicate the client ignores.
        events.push({ t: Math.round(d + 2), actor: c, round: r, kind: 'duplicate', id: startId, type: 'round-start', from: 'server' });
        deliver(d + 2, c, r, 'round-start', startId, 'server', r, 180);
        events.push({ t: Math.round(d + 2), actor: c, round: r, kind: 'ignored', messageId: startId, sender: 'server', message: 'round-start', reason: 'duplicate', atRound: r });
      }
      let t = Math.max(d, clientFree[i]!);
      stateAt(t, c, r, 'trainPrivate');
      t += priv * 20 * speed[i]!;
      if (faults && r === R && i === 2 && K > 3) {
        events.push({ t: Math.round(t), actor: c, round: r, kind: 'crash', reason: 'synthetic crash during training' });
        stateAt(t, c, r, 'failed');
        crashed.add(c);
        return;
      }
      stateAt(t, c, r, 'computePublicLogits');
      t += (pub * 20 * speed[i]!) / 3;
      stateAt(t, c, r, 'uploadLogits');
      const bytes = logitBytes + Math.round(rng.next() * 2048);
      const upId = send(t, c, r, 'slm-logits', bytes);
      t += transfer(bytes);
      stateAt(t, c, r, 'awaitLLMLogits');
      awaitStart.set(c, t);
      let arrival = t + latency[i]!;
      if (faults && r === 2 && i === K - 1) {
        arrival = deadline + 5_000; // a straggler: after the deadline
        events.push({ t: Math.round(t), actor: c, round: r, kind: 'delay', id: upId, type: 'slm-logits', ms: Math.round(arrival - t) });
      }
      arrivals.push({ client: c, t: arrival, id: upId, bytes });
    });
    // Server collects until everyone is in or the deadline passes.
    const inTime = arrivals.filter((a) => a.t <= deadline);
    let tServer = Math.max(T + 3, ...inTime.map((a) => a.t));
    for (const a of arrivals) {
      deliver(a.t, 'server', r, 'slm-logits', a.id, a.client, r, a.bytes);
      if (a.t <= deadline) events.push({ t: Math.round(a.t), actor: 'server', round: r, kind: 'accepted', messageId: a.id, sender: a.client, message: 'slm-logits' });
      else events.push({ t: Math.round(a.t), actor: 'server', round: r, kind: 'ignored', messageId: a.id, sender: a.client, message: 'slm-logits', reason: 'late', atRound: r });
    }
    if (inTime.length < arrivals.length || arrivals.length < ids.length - crashed.size) {
      tServer = deadline;
      events.push({ t: Math.round(deadline), actor: 'server', round: r, kind: 'quorum', accepted: inTime.length, needed: Math.ceil(K / 2), outcome: 'proceed' });
    }
    stateAt(tServer, 'server', r, 'alignSLMTokens');
    tServer += inTime.length * pub * 1;
    events.push({ t: Math.round(tServer), actor: 'server', round: r, kind: 'selected', self: pub * 20, ...Object.fromEntries(inTime.slice(0, 3).map((a) => [a.client, 10])) });
    stateAt(tServer, 'server', r, 'distillFromSLMs');
    tServer += pub * 20 * 4;
    stateAt(tServer, 'server', r, 'computeLLMLogits');
    tServer += (pub * 20 * 4) / 3;
    stateAt(tServer, 'server', r, 'broadcastLLMLogits');
    const llmBytes = logitBytes + 1024;
    const llmId = send(tServer, 'server', r, 'llm-logits', llmBytes);
    tServer += transfer(llmBytes);
    const adapterArrivals: { client: string; t: number; id: string }[] = [];
    ids.forEach((c, i) => {
      if (crashed.has(c) || !awaitStart.has(c)) return;
      const arrival = tServer + latency[i]!;
      let t: number;
      if (faults && r === 1 && i === 1 && K > 2) {
        events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'drop', id: llmId, type: 'llm-logits', from: 'server' });
        t = awaitStart.get(c)! + 1_800_000;
        events.push({ t: Math.round(t), actor: c, round: r, kind: 'deadline', state: 'awaitLLMLogits', action: 'self-distil' });
      } else if (faults && r === 1 && i === 3 && K > 4) {
        events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'corrupt', id: llmId, type: 'llm-logits', from: 'server' });
        events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'reject', subject: `fedmkt.synthetic.r${r}.llm-logits.server`, bytes: llmBytes, error: 'checksum mismatch' });
        t = awaitStart.get(c)! + 1_800_000;
        events.push({ t: Math.round(t), actor: c, round: r, kind: 'deadline', state: 'awaitLLMLogits', action: 'self-distil' });
      } else {
        deliver(arrival, c, r, 'llm-logits', llmId, 'server', r, llmBytes);
        events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'accepted', messageId: llmId, sender: 'server', message: 'llm-logits' });
        t = Math.max(arrival, awaitStart.get(c)!);
        stateAt(t, c, r, 'alignLLMTokens');
        t += pub * 1;
        events.push({ t: Math.round(t), actor: c, round: r, kind: 'alignment', from: 'server', exact: 0.8, mapped: 0.15 });
      }
      stateAt(t, c, r, 'distillFromLLM');
      t += pub * 20 * speed[i]!;
      events.push({ t: Math.round(t), actor: c, round: r, kind: 'selected', llm: Math.round(pub * 0.6), self: Math.round(pub * 0.4) });
      if (fedAvg) {
        stateAt(t, c, r, 'fedAvg.uploadAdapter');
        const id = send(t, c, r, 'adapter', adapterBytes);
        t += transfer(adapterBytes);
        stateAt(t, c, r, 'fedAvg.awaitAverage');
        adapterArrivals.push({ client: c, t: t + latency[i]!, id });
      }
      clientFree[i] = t;
    });
    if (fedAvg) {
      stateAt(tServer, 'server', r, 'fedAvg.awaitAdapters');
      for (const a of adapterArrivals) {
        deliver(a.t, 'server', r, 'adapter', a.id, a.client, r, adapterBytes);
        events.push({ t: Math.round(a.t), actor: 'server', round: r, kind: 'accepted', messageId: a.id, sender: a.client, message: 'adapter' });
      }
      tServer = Math.max(tServer, ...adapterArrivals.map((a) => a.t));
      stateAt(tServer, 'server', r, 'fedAvg.averageAdapters');
      tServer += 40;
      const avgId = send(tServer, 'server', r, 'adapter-average', adapterBytes);
      tServer += transfer(adapterBytes);
      ids.forEach((c, i) => {
        if (crashed.has(c) || !awaitStart.has(c)) return;
        const arrival = tServer + latency[i]!;
        deliver(arrival, c, r, 'adapter-average', avgId, 'server', r, adapterBytes);
        events.push({ t: Math.round(arrival), actor: c, round: r, kind: 'accepted', messageId: avgId, sender: 'server', message: 'adapter-average' });
        const t = Math.max(arrival, clientFree[i]!);
        stateAt(t, c, r, 'fedAvg.applyAverage');
        clientFree[i] = t + 30;
      });
    }
    // Evaluations end the round.
    ids.forEach((c, i) => {
      if (crashed.has(c) || !awaitStart.has(c)) return;
      let t = clientFree[i]!;
      stateAt(t, c, r, 'roundEnd');
      t += 400 * speed[i]!;
      metric(t, c, 'client', r, accuracy(clientBase[i]!, clientGain[i]!, r));
      stateAt(t, c, r, 'waitForRound');
      clientFree[i] = t;
    });
    stateAt(tServer, 'server', r, 'roundEnd');
    tServer += 2000;
    metric(tServer, 'server', 'server', r, accuracy(0.3, 0.3, r));
    T = tServer;
    finishedLast = tServer;
  }
  // Finish.
  stateAt(finishedLast, 'server', R, 'finishing');
  const finishId = send(finishedLast + 1, 'server', R, 'finish', 90);
  stateAt(finishedLast + 2, 'server', R, 'done');
  ids.forEach((c, i) => {
    if (crashed.has(c)) return;
    const arrival = finishedLast + 1 + latency[i]!;
    deliver(arrival, c, R, 'finish', finishId, 'server', R, 90);
    events.push({ t: Math.round(arrival), actor: c, round: R, kind: 'accepted', messageId: finishId, sender: 'server', message: 'finish' });
    stateAt(Math.max(arrival, clientFree[i]!), c, R, 'done');
  });
  if (options.baselines) {
    for (let r = 0; r <= R; r++) {
      ids.forEach((c, i) =>
        metrics.push({
          round: r,
          actor: c,
          role: 'client',
          baseline: 'standalone',
          accuracy: asAccuracy(clientBase[i]! + 0.6 * clientGain[i]! * (1 - Math.exp(-r / 3))),
          accuracyNorm: null,
          publicCE: null,
          trainLoss: null,
          distillLoss: null,
          bytesUp: 0,
          bytesDown: 0,
          virtualSeconds: 0,
        }),
      );
      metrics.push({ round: r, actor: 'server', role: 'server', baseline: 'LLM-ZS', accuracy: asAccuracy(0.3), accuracyNorm: null, publicCE: null, trainLoss: null, distillLoss: null, bytesUp: 0, bytesDown: 0, virtualSeconds: 0 });
    }
  }
  const order = events.map((e, i) => [e.t, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const sorted = order.map(([, i]) => events[i]!);
  const scenarioText = [
    `name: synthetic-${K}x${R}`,
    `description: synthetic run for report tests (${K} clients, ${R} rounds${faults ? ', with faults' : ''})`,
    `seed: ${options.seed ?? 0}`,
    `rounds: ${R}`,
    'protocol:',
    `  fedAvg: ${fedAvg}`,
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
  return { events: sorted, metrics, scenarioText };
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
