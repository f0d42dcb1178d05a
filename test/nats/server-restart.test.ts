/**
 * The fedmkt server process killed outright (SIGKILL) while it collects round 2's uploads, in a
 * deployment of one process per actor with durable uploads (`--uploads jetstream`) and actor
 * state on disk (`faults.persist: disk`). The clients go on: what they upload meanwhile waits in
 * the stream. `serve --restart DIR` brings the server back where it was; every upload is
 * counted exactly once, none it had accepted is lost.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { watchEvents } from '../../actors/monitor.js';
import { recordsSoFar } from '../../actors/round-checkpoints.js';
import type { RunEvent } from '../../core/records.js';
import { checkInvariants } from '../../core/invariants/check.js';
import { type NatsServerHandle, startNatsServer } from '../../core/nats/server-process.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import { uploadStreamName } from '../../core/transport/nats/subject-rules.js';
import { ROOT, startFedmkt } from '../cli/helpers.js';
import { natsServerAvailable, waitFor } from './helpers.js';

const CLIENTS = ['c1', 'c2', 'c3'];
const RUN = 'nats-small';

function events(dir: string): RunEvent[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RunEvent);
}

const isUpload = (e: RunEvent, round: number) => e.actor === 'server' && e.kind === 'accepted' && e.message === 'slm-logits' && e.round === round;

describe('the records a restarted process goes on from', () => {
  it("keeps each actor's events up to its persisted state: what it recorded after is undone", () => {
    const folder = mkdtempSync(join(tmpdir(), 'fedmkt-records-so-far-'));
    try {
      const rows = [
        { t: 1, actor: 'server', round: 2, kind: 'state', state: 'awaitSLMLogits' },
        { t: 2, actor: 'c1', round: 2, kind: 'send', type: 'slm-logits', id: 'c1:2' },
        { t: 3, actor: 'server', round: 2, kind: 'accepted', message: 'slm-logits', sender: 'c1', messageId: 'c1:2' },
        { t: 4, actor: 'c1', round: 2, kind: 'state', state: 'awaitLLMLogits' },
      ];
      writeFileSync(join(folder, 'events.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
      // The server died after recording the acceptance, before its state (with the upload) was saved.
      const kept = recordsSoFar(folder, (actor) => (actor === 'server' ? 2 : undefined));
      expect(kept.events).toEqual([rows[0], rows[1], rows[3]]);
      expect(kept.metrics).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!natsServerAvailable)('a server process killed mid-collection, with durable uploads', () => {
  let nats: NatsServerHandle | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fedmkt-server-restart-'));
  afterAll(async () => {
    await nats?.stop();
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('comes back with `serve --restart` and counts every upload exactly once', { timeout: 480_000 }, async () => {
    nats = await startNatsServer({ jetstream: true });
    const url = nats.url;
    // c3 trains longer, so that its round-2 upload is made while the server is down; the deadline outlasts the restart.
    const scenario = join(dir, 'small.yaml');
    writeFileSync(
      scenario,
      `${readFileSync(join(ROOT, 'scenarios/nats-small.yaml'), 'utf8')
        .replace('awaitSLMLogits: { deadlineMs: 20000, quorum: 2 }', 'awaitSLMLogits: { deadlineMs: 120000, quorum: 2 }')
        .replace(
          '{ id: c3, model: *slm, training: *t }',
          '{ id: c3, model: *slm, training: { privateEpochs: 30, learningRate: 0.003 } }',
        )}faults: { persist: disk }\n`,
    );
    const out = (actor: string) => join(dir, `run-${actor}`);
    const observer = await NatsTransport.connect({ servers: url });
    const seen: RunEvent[] = [];
    watchEvents(observer, RUN, (e) => seen.push(e));
    const common = ['--nats', url, '--uploads', 'jetstream', '--quiet'];
    const serve = startFedmkt(['serve', scenario, '--out', out('server'), ...common]);
    const clients = CLIENTS.map((id) => startFedmkt(['join', scenario, '--client', id, '--out', out(id), ...common]));
    let restarted: ReturnType<typeof startFedmkt> | undefined;
    try {
      await waitFor('the first upload of round 2 at the server', () => seen.some((e) => isUpload(e, 2)), 180_000);
      serve.child.kill('SIGKILL');
      await serve.exited;
      const before = events(out('server'));
      const acceptedBefore = before.filter((e) => isUpload(e, 2)).map((e) => String(e.sender));
      expect(acceptedBefore.length).toBeGreaterThan(0);
      // The clients go on: each makes its round-2 upload, the ones the server had not taken wait in the stream.
      await waitFor(
        'every round-2 upload',
        () => CLIENTS.every((c) => seen.some((e) => e.actor === c && e.kind === 'send' && e.type === 'slm-logits' && e.round === 2)),
        120_000,
      );
      const waiting = await storedChunks(url);
      if (acceptedBefore.length < CLIENTS.length) expect(waiting).toBeGreaterThan(0);

      restarted = startFedmkt(['serve', '--restart', out('server'), ...common]);
      const processes = [restarted, ...clients];
      const outputs = () => processes.map((p, i) => `${i === 0 ? 'server' : CLIENTS[i - 1]}:\n${p.output()}`).join('\n----\n');
      // Bounded, so that a run that does not end fails with what each process said.
      let ended = false;
      const exits = Promise.all(processes.map((p) => p.exited)).finally(() => {
        ended = true;
      });
      await waitFor('the restarted server and the clients to end', () => ended, 150_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${outputs()}`);
      });
      expect(await exits, outputs()).toEqual([0, 0, 0, 0]);

      const server = events(out('server'));
      // The killed process's records are kept up to its last saved state, and the new one says where it came back.
      const crashAt = server.findIndex((e) => e.kind === 'crash');
      expect(crashAt).toBeGreaterThan(0);
      expect(before.slice(0, crashAt)).toEqual(server.slice(0, crashAt));
      // What it recorded after that state (an upload taken but not yet saved when it died) is undone, and taken
      // again from the stream after the restart.
      const again = server.slice(crashAt);
      for (const undone of before.slice(crashAt).filter((e) => isUpload(e, 2)))
        expect(
          again.some((e) => isUpload(e, 2) && e.messageId === undone.messageId),
          `${undone.messageId} taken again`,
        ).toBe(true);
      const crash = server[crashAt];
      expect(crash).toMatchObject({ actor: 'server', round: 2, state: 'awaitSLMLogits', cause: 'process' });
      expect(server.find((e) => e.kind === 'restart')).toMatchObject({ actor: 'server', round: 2, state: 'awaitSLMLogits' });
      for (const round of [1, 2])
        expect(
          server
            .filter((e) => isUpload(e, round))
            .map((e) => e.sender)
            .sort(),
          `round ${round}`,
        ).toEqual(CLIENTS);
      expect(server.filter((e) => e.kind === 'state').at(-1)?.state).toBe('done');
      // The uploads it had accepted before the kill were kept: it distilled round 2 from all three.
      const selected = server.find((e) => e.kind === 'selected' && e.round === 2);
      for (const c of CLIENTS) expect(selected).toHaveProperty(c);

      // The whole federation's trace: nothing accepted twice, no accepted upload lost.
      const trace = [...server, ...CLIENTS.flatMap((c) => events(out(c)))].sort((a, b) => a.t - b.t);
      const violations = checkInvariants(trace, { clients: CLIENTS, quorum: 2, acceptWithinRounds: 0 });
      expect(violations.filter((v) => v.invariant === 'once' || v.invariant === 'kept')).toEqual([]);
      for (const c of CLIENTS)
        expect(
          events(out(c))
            .filter((e) => e.kind === 'state')
            .at(-1)?.state,
        ).toBe('done');
      expect(await storedChunks(url)).toBe(0);
    } finally {
      for (const p of [serve, restarted, ...clients]) p?.child.kill('SIGKILL');
      await observer.close();
    }
  });
});

/** Upload chunks the run's stream holds, not yet acknowledged by the server. */
async function storedChunks(url: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    return (await (await jetstreamManager(nc)).streams.info(uploadStreamName(RUN))).state.messages;
  } finally {
    await nc.close();
  }
}
