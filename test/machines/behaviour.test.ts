/**
 * Behaviour of the real client and server machines on a virtual clock, with every piece of
 * work replaced by a `fromPromise` fake (fixed output, fixed virtual duration). Messages are
 * delivered at chosen virtual times; states, work inputs and protocol records are checked.
 */
import { describe, expect, it } from 'vitest';
import type { AlignedTeacher } from '../../core/alignment/aligned-teacher.js';
import type { AdapterWeights } from '../../core/models/model.js';
import type { PublicLogits } from '../../core/protocol/messages.js';
import { clientMachine, type ClientPolicy } from '../../machines/client.js';
import { serverMachine, type ServerPolicy } from '../../machines/server.js';
import { bookGet, bookIds } from '../../core/upload-book.js';
import { harness, tinyLogits, type FakeWork, type Harness } from './fixtures.js';

type Server = Harness<typeof serverMachine>;
type Client = Harness<typeof clientMachine>;

const SERVER_WORK = [
  'evaluate',
  'announceRound',
  'alignSLMTokens',
  'distillFromSLMs',
  'computeLLMLogits',
  'broadcastLLMLogits',
  'averageAdapters',
  'announceFinish',
];
const CLIENT_WORK = [
  'evaluate',
  'trainPrivate',
  'computePublicLogits',
  'uploadLogits',
  'alignLLMTokens',
  'distillFromLLM',
  'uploadAdapter',
  'applyAdapterAverage',
];

/** Distinct payloads so that identity shows which message a step was given. */
const slmLogits = new Map<string, PublicLogits>();
function slm(client: string, round: number): PublicLogits {
  const key = `${client}:${round}`;
  if (!slmLogits.has(key)) slmLogits.set(key, tinyLogits(`slm-${key}`));
  return slmLogits.get(key)!;
}
const llmLogits = new Map<number, PublicLogits>();
function llm(round: number): PublicLogits {
  if (!llmLogits.has(round)) llmLogits.set(round, tinyLogits(`llm-${round}`));
  return llmLogits.get(round)!;
}
const teacher = (tag: string) => ({ tag }) as unknown as AlignedTeacher;
const adapter = (tag: string): AdapterWeights => ({ [tag]: { shape: [1], values: Float32Array.of(1) } });

// ---------------------------------------------------------------- server

const SERVER_DURATIONS = {
  evaluate: 5,
  announceRound: 1,
  alignSLMTokens: 30,
  distillFromSLMs: 200,
  computeLLMLogits: 50,
  broadcastLLMLogits: 10,
  averageAdapters: 20,
  announceFinish: 1,
};

function serverPolicy(p: Partial<ServerPolicy> = {}): ServerPolicy {
  return {
    uploadDeadlineMs: 1000,
    quorum: 2,
    onQuorumLost: 'skip-round',
    adapterDeadlineMs: 500,
    fedAvg: false,
    llmFrozen: false,
    finishRetryMs: 300,
    finishAttempts: 3,
    ...p,
  };
}

const finishAck = (client: string, round: number, messageId = `${client}:fa${round}`) => ({ type: 'FINISH_ACK' as const, round, sender: client, messageId });

function upload(client: string, round: number, messageId = `${client}:r${round}`) {
  return { type: 'SLM_LOGITS' as const, round, sender: client, messageId, logits: slm(client, round) };
}

/**
 * A server whose announceRound hook plays the clients: `uploads(round)` lists, per round,
 * [ms after the announcement, event] pairs.
 */
function server(
  opts: {
    clients?: string[];
    totalRounds?: number;
    resumeAfterRound?: number;
    /** A population's round: uploads awaited of those announced. */
    perRound?: number;
    policy?: Partial<ServerPolicy>;
    uploads?: (round: number, h: Server) => [number, ReturnType<typeof upload> | Parameters<Server['sendAt']>[1]][];
    durations?: Partial<typeof SERVER_DURATIONS>;
  } & Pick<FakeWork<typeof serverMachine>, 'fail' | 'hooks'> = {},
): Server {
  const clients = opts.clients ?? ['c1', 'c2', 'c3'];
  return harness(
    serverMachine,
    SERVER_WORK,
    {
      totalRounds: opts.totalRounds ?? 1,
      clients,
      policy: serverPolicy(opts.policy),
      ...(opts.resumeAfterRound ? { resumeAfterRound: opts.resumeAfterRound } : {}),
      ...(opts.perRound ? { perRound: opts.perRound } : {}),
    },
    {
      durations: { ...SERVER_DURATIONS, ...opts.durations },
      outputs: {
        alignSLMTokens: (input: { uploads: { client: string }[] }) => ({
          teachers: input.uploads.map((u) => ({ client: u.client, teacher: teacher(u.client) })),
        }),
        distillFromSLMs: () => ({ loss: 1 }),
        computeLLMLogits: (input: { round: number }) => ({ logits: llm(input.round) }),
      },
      hooks: {
        announceRound: (input: { round: number }, h) => {
          const plan = opts.uploads ? opts.uploads(input.round, h) : clients.map((c, i) => [100 + 50 * i, upload(c, input.round)] as const);
          for (const [ms, event] of plan) h.sendAt(ms, event);
        },
        // Every client acknowledges the finish 10 ms after each announcement.
        announceFinish: (input: { round: number }, h) =>
          clients.forEach((c, i) => h.sendAt(10, finishAck(c, input.round, `${c}:fa${h.callsOf('announceFinish').length}.${i}`))),
        ...opts.hooks,
      },
      fail: opts.fail,
    },
  );
}

const ROUND_STEPS = ['announceRound', 'awaitSLMLogits', 'alignSLMTokens', 'distillFromSLMs', 'computeLLMLogits', 'broadcastLLMLogits'];

describe('server machine', () => {
  it('1. all uploads before the deadline: proceeds at once, steps in order every round, finishes after totalRounds', async () => {
    const s = server({
      totalRounds: 3,
      uploads: (r) => [
        [100, upload('c1', r)],
        [150, upload('c2', r)],
        [300, upload('c3', r)],
      ],
    });
    await s.run();

    for (const round of [1, 2, 3]) {
      expect(s.statesIn(round)).toEqual([...ROUND_STEPS, 'roundEnd', ...(round === 3 ? ['finishing', 'awaitFinishAcks', 'done'] : [])]);
      const [announce] = s.callsOf('announceRound').filter((c) => c.input.round === round);
      const awaitEntered = s.trace.find((e) => e.round === round && e.state === 'awaitSLMLogits')!.t;
      const left = s.trace.find((e) => e.round === round && e.state === 'alignSLMTokens')!.t;
      expect(awaitEntered).toBe(announce!.end);
      // Left as the third upload arrived (300 ms after the announcement started), long before the deadline.
      expect(left).toBe(announce!.start + 300);
      expect(left).toBeLessThan(awaitEntered + 1000);
      const [align] = s.callsOf('alignSLMTokens').filter((c) => c.input.round === round);
      expect(align!.input.uploads).toEqual(['c1', 'c2', 'c3'].map((c) => ({ client: c, logits: slm(c, round) })));
      const [distil] = s.callsOf('distillFromSLMs').filter((c) => c.input.round === round);
      expect(distil!.input.slmTeachers).toEqual(['c1', 'c2', 'c3'].map((c) => ({ client: c, teacher: teacher(c) })));
      const [broadcast] = s.callsOf('broadcastLLMLogits').filter((c) => c.input.round === round);
      expect(broadcast!.input.logits).toBe(llm(round));
    }
    expect(s.trace[0]!.state).toBe('evaluateZeroShot');
    expect(s.callsOf('announceRound').map((c) => c.input)).toEqual([1, 2, 3].map((round) => ({ round, uploadDeadline: 1000 })));
    expect(s.callsOf('evaluate').map((c) => c.input.round)).toEqual([0, 1, 2, 3]);
    expect(s.callsOf('announceFinish').map((c) => c.input)).toEqual([{ round: 3, reason: 'completed', detail: '' }]);
    expect(s.recordsOf('quorum')).toEqual([]);
    expect(s.recordsOf('ignored')).toEqual([]);
    expect(s.recordsOf('accepted').filter((r) => r.message === 'slm-logits')).toHaveLength(9);
    expect(
      s
        .recordsOf('accepted')
        .filter((r) => r.message === 'finish-ack')
        .map((r) => r.sender),
    ).toEqual(['c1', 'c2', 'c3']);
    expect(s.actor.getSnapshot().status).toBe('done');
    expect(s.actor.getSnapshot().value).toBe('done');
    expect(s.actor.getSnapshot().context).toMatchObject({ round: 3, skippedRounds: [], failure: null });
  });

  it('2. quorum met at the deadline: proceeds with the 2 uploads, a later third upload is ignored as late', async () => {
    const seen: { state: string; uploads: string[] }[] = [];
    const s = server({
      durations: { alignSLMTokens: 1000 },
      uploads: (r, h) => {
        h.at(1500, () => {
          h.actor.send(upload('c3', r));
          const snap = h.actor.getSnapshot();
          seen.push({ state: JSON.stringify(snap.value), uploads: bookIds(snap.context.uploads).sort() });
        });
        return [
          [100, upload('c1', r)],
          [200, upload('c2', r)],
        ];
      },
    });
    await s.run();

    // announceRound runs 5..6, the deadline is 1000 ms after awaitSLMLogits is entered.
    expect(s.records.filter((r) => r.type === 'quorum')).toEqual([{ type: 'quorum', round: 1, accepted: 2, needed: 2, outcome: 'proceed', t: 1006 }]);
    expect(s.trace.find((e) => e.state === 'alignSLMTokens')!.t).toBe(1006);
    expect(s.records.filter((r) => r.type === 'ignored')).toEqual([
      { type: 'ignored', round: 1, atRound: 1, messageId: 'c3:r1', sender: 'c3', message: 'slm-logits', reason: 'late', t: 1505 },
    ]);
    expect(seen).toEqual([{ state: JSON.stringify({ round: 'alignSLMTokens' }), uploads: ['c1', 'c2'] }]);
    expect(s.callsOf('alignSLMTokens').map((c) => c.input)).toEqual([
      {
        round: 1,
        uploads: [
          { client: 'c1', logits: slm('c1', 1) },
          { client: 'c2', logits: slm('c2', 1) },
        ],
      },
    ]);
    expect(
      s
        .recordsOf('accepted')
        .filter((r) => r.message === 'slm-logits')
        .map((r) => r.sender),
    ).toEqual(['c1', 'c2']);
    expect(s.statesIn(1)).toEqual([...ROUND_STEPS, 'roundEnd', 'finishing', 'awaitFinishAcks', 'done']);
  });

  it('2b. uploads that come while the round is still being announced count when collection opens; past the uploads awaited, they are late', async () => {
    // Over a real network a fast client can answer before the last announcement is out.
    const early = (perRound?: number) =>
      server({
        durations: { announceRound: 100 },
        ...(perRound ? { perRound } : {}),
        uploads: (r) => [
          [10, upload('c2', r)],
          [20, upload('c1', r)],
          [30, upload('c3', r)],
        ],
      });
    const all = early();
    await all.run();
    // announceRound runs 5..105: the three are taken as it ends, and collection closes at once.
    const slmAccepted = (h: Server) => h.records.filter((r) => r.type === 'accepted' && r.message === 'slm-logits').map((r) => [r.sender, r.t]);
    expect(slmAccepted(all)).toEqual([
      ['c2', 105],
      ['c1', 105],
      ['c3', 105],
    ]);
    expect(all.records.filter((r) => r.type === 'ignored')).toEqual([]);
    expect(all.callsOf('alignSLMTokens')[0]!.input.uploads.map((u: { client: string }) => u.client)).toEqual(['c1', 'c2', 'c3']);
    const two = early(2);
    await two.run();
    expect(slmAccepted(two)).toEqual([
      ['c2', 105],
      ['c1', 105],
    ]);
    expect(two.records.filter((r) => r.type === 'ignored')).toEqual([
      { type: 'ignored', round: 1, atRound: 1, messageId: 'c3:r1', sender: 'c3', message: 'slm-logits', reason: 'late', t: 105 },
    ]);
    // Announced, its upload not used: a straggler, as when it comes after the others.
    expect(two.records.filter((r) => r.type === 'stragglers')).toEqual([{ type: 'stragglers', round: 1, clients: ['c3'], t: 105 }]);
  });

  it('3a. below quorum with skip-round: the round is skipped and the next one announced', async () => {
    const s = server({
      totalRounds: 2,
      uploads: (r) => (r === 1 ? [[100, upload('c1', r)]] : ['c1', 'c2', 'c3'].map((c, i) => [100 + i, upload(c, r)])),
    });
    await s.run();

    expect(s.records.filter((r) => r.type === 'quorum')).toEqual([{ type: 'quorum', round: 1, accepted: 1, needed: 2, outcome: 'skip-round', t: 1006 }]);
    expect(s.statesIn(1)).toEqual(['announceRound', 'awaitSLMLogits', 'roundEnd']);
    expect(s.statesIn(2)).toEqual([...ROUND_STEPS, 'roundEnd', 'finishing', 'awaitFinishAcks', 'done']);
    // The skipped round was still evaluated, then round 2 announced right after (1006 + 5).
    expect(s.callsOf('evaluate').map((c) => c.input.round)).toEqual([0, 1, 2]);
    expect(s.callsOf('announceRound').map((c) => [c.input.round, c.start])).toEqual([
      [1, 5],
      [2, 1011],
    ]);
    expect(s.callsOf('alignSLMTokens').map((c) => c.input.round)).toEqual([2]);
    const snap = s.actor.getSnapshot();
    expect(snap.value).toBe('done');
    expect(snap.context.skippedRounds).toEqual([1]);
    expect(s.callsOf('announceFinish').map((c) => c.input.reason)).toEqual(['completed']);
  });

  it('3b. below quorum with abort: finish announced as aborted, the machine fails naming the quorum', async () => {
    const s = server({ totalRounds: 2, policy: { onQuorumLost: 'abort' }, uploads: (r) => [[100, upload('c1', r)]] });
    await s.run();

    expect(s.recordsOf('quorum')).toEqual([{ type: 'quorum', round: 1, accepted: 1, needed: 2, outcome: 'abort' }]);
    const failure = 'quorum lost in round 1: 1 of 2 uploads by the deadline';
    expect(s.callsOf('announceFinish').map((c) => c.input)).toEqual([{ round: 1, reason: 'aborted', detail: failure }]);
    expect(s.trace.map((e) => e.state)).toEqual(['evaluateZeroShot', 'announceRound', 'awaitSLMLogits', 'aborting', 'awaitFinishAcks', 'failed']);
    const snap = s.actor.getSnapshot();
    expect(snap.status).toBe('done');
    expect(snap.value).toBe('failed');
    expect(snap.context.failure).toBe(failure);
    expect(snap.context.failure).toMatch(/quorum/);
    expect(s.callsOf('announceRound')).toHaveLength(1);
    expect(s.callsOf('alignSLMTokens')).toHaveLength(0);
  });

  it('4. duplicate, unknown-sender, future and late uploads are recorded and not counted', async () => {
    const probes: Record<string, unknown>[] = [];
    const s = server({
      totalRounds: 2,
      uploads: (r, h) => {
        if (r === 1) {
          h.at(500, () =>
            probes.push(Object.fromEntries(bookIds(h.actor.getSnapshot().context.uploads).map((c) => [c, bookGet(h.actor.getSnapshot().context.uploads, c)]))),
          );
          return [
            [100, upload('c1', 1, 'c1:r1:a')],
            [200, upload('c1', 1, 'c1:r1:b')],
            [300, upload('mallory', 1)],
            [400, upload('c2', 2, 'c2:r2:early')],
          ];
        }
        return [
          [50, upload('c3', 1, 'c3:r1:late')],
          [100, upload('c1', 2)],
          [150, upload('c2', 2)],
          [200, upload('c3', 2)],
          // After everyone is in (collection closed, distillFromSLMs running): a repeat.
          [300, upload('c1', 2, 'c1:r2:again')],
        ];
      },
    });
    await s.run();

    const ignored = s.recordsOf('ignored').map((r) => [r.messageId, r.sender, r.round, r.atRound, r.reason]);
    expect(ignored).toEqual([
      ['c1:r1:b', 'c1', 1, 1, 'duplicate'],
      ['mallory:r1', 'mallory', 1, 1, 'unknown-sender'],
      ['c2:r2:early', 'c2', 2, 1, 'future'],
      ['c3:r1:late', 'c3', 1, 2, 'late'],
      ['c1:r2:again', 'c1', 2, 2, 'duplicate'],
    ]);
    expect(s.recordsOf('ignored').every((r) => r.message === 'slm-logits')).toBe(true);
    expect(
      s
        .recordsOf('accepted')
        .filter((r) => r.message === 'slm-logits')
        .map((r) => r.messageId),
    ).toEqual(['c1:r1:a', 'c1:r2', 'c2:r2', 'c3:r2']);
    // Round 1: only the first c1 upload is held, so at the deadline 1 of 2: skipped.
    expect(probes).toEqual([{ c1: { messageId: 'c1:r1:a', logits: slm('c1', 1), madeFor: 1 } }]);
    expect(s.recordsOf('quorum')).toEqual([{ type: 'quorum', round: 1, accepted: 1, needed: 2, outcome: 'skip-round' }]);
    expect(s.callsOf('alignSLMTokens').map((c) => c.input.uploads.map((u: { client: string }) => u.client))).toEqual([['c1', 'c2', 'c3']]);
    expect(s.actor.getSnapshot().value).toBe('done');
  });

  it('8b. fedAvg: collects ADAPTER events and invokes averageAdapters with them; deadline with some or none', async () => {
    const adapterEvent = (client: string, round: number) => ({
      type: 'ADAPTER' as const,
      round,
      sender: client,
      messageId: `${client}:a${round}`,
      tensors: adapter(`${client}:${round}`),
      weight: client === 'c1' ? 3 : 5,
    });
    const s = server({
      clients: ['c1', 'c2'],
      totalRounds: 3,
      policy: { fedAvg: true, quorum: 1 },
      hooks: {
        broadcastLLMLogits: (input: { round: number }, h: Server) => {
          // Round 1: both adapters; round 2: c1 only; round 3: none.
          if (input.round <= 2) h.sendAt(30, adapterEvent('c1', input.round));
          if (input.round === 1) h.sendAt(60, adapterEvent('c2', input.round));
          if (input.round === 1) h.sendAt(70, adapterEvent('c2', input.round)); // while averaging
        },
      },
    });
    await s.run();

    const upload = (client: string, round: number) => {
      const e = adapterEvent(client, round);
      return { client, upload: { messageId: e.messageId, tensors: e.tensors, weight: e.weight } };
    };
    expect(s.callsOf('averageAdapters').map((c) => c.input)).toEqual([
      { round: 1, adapters: [upload('c1', 1), upload('c2', 1)] },
      { round: 2, adapters: [upload('c1', 2)] },
    ]);
    for (const round of [1, 2, 3]) {
      const broadcast = s.callsOf('broadcastLLMLogits').find((c) => c.input.round === round)!;
      const averaging = s.callsOf('averageAdapters').find((c) => c.input.round === round);
      if (round === 1) expect(averaging!.start).toBe(broadcast.start + 60); // all in: no waiting for the deadline
      if (round === 2) expect(averaging!.start).toBe(broadcast.end! + 500); // deadline with one adapter
      const tail =
        round === 3
          ? ['fedAvg.awaitAdapters', 'roundEnd', 'finishing', 'awaitFinishAcks', 'done']
          : ['fedAvg.awaitAdapters', 'fedAvg.averageAdapters', 'roundEnd'];
      expect(s.statesIn(round)).toEqual([...ROUND_STEPS, ...tail]);
    }
    expect(s.recordsOf('deadline')).toEqual([{ type: 'deadline', round: 3, state: 'fedAvg', action: 'no-adapters' }]);
    expect(
      s
        .recordsOf('accepted')
        .filter((r) => r.message === 'adapter')
        .map((r) => r.messageId),
    ).toEqual(['c1:a1', 'c2:a1', 'c1:a2']);
    expect(s.recordsOf('ignored')).toEqual([
      { type: 'ignored', round: 1, atRound: 1, messageId: 'c2:a1', sender: 'c2', message: 'adapter', reason: 'duplicate' },
    ]);
    expect(s.actor.getSnapshot().value).toBe('done');
  });
});

// ---------------------------------------------------------------- client

const CLIENT_DURATIONS = {
  evaluate: 5,
  trainPrivate: 100,
  computePublicLogits: 50,
  uploadLogits: 10,
  alignLLMTokens: 20,
  distillFromLLM: 100,
  uploadAdapter: 10,
  applyAdapterAverage: 10,
};

function clientPolicy(p: Partial<ClientPolicy> = {}): ClientPolicy {
  return {
    llmLogitsDeadlineMs: 1000,
    onMissingLLMLogits: 'self-distil',
    adapterDeadlineMs: 500,
    serverSilenceMs: 10_000,
    announcementDeadlineMs: 1000,
    fedAvg: false,
    ...p,
  };
}

const roundStart = (round: number, messageId = `rs${round}`) => ({ type: 'ROUND_START' as const, round, sender: 'server', messageId, uploadDeadline: 1000 });
const llmMessage = (round: number, messageId = `ll${round}`) => ({ type: 'LLM_LOGITS' as const, round, sender: 'server', messageId, logits: llm(round) });
const finishMessage = (round: number, messageId = `fin${round}`) => ({
  type: 'FINISH' as const,
  round,
  sender: 'server',
  messageId,
  reason: 'completed' as const,
});
const averageMessage = (round: number) => ({
  type: 'ADAPTER_AVERAGE' as const,
  round,
  sender: 'server',
  messageId: `aa${round}`,
  tensors: adapter(`avg${round}`),
});

/**
 * A client. By default the server announces round 1 at t = 1, answers every upload with its
 * LLM logits 200 ms later and the next announcement 250 ms later, and announces the finish
 * while the client evaluates its last round; `hooks` override that.
 */
function client(
  opts: { totalRounds?: number; resumeAfterRound?: number; selectedRound?: number; policy?: Partial<ClientPolicy>; announceFirst?: boolean } & Pick<
    FakeWork<typeof clientMachine>,
    'fail' | 'hooks' | 'actions'
  > = {},
): Client {
  const totalRounds = opts.totalRounds ?? 1;
  const resume = opts.resumeAfterRound ? { resumeAfterRound: opts.resumeAfterRound } : {};
  const selected = opts.selectedRound ? { selectedRound: opts.selectedRound } : {};
  const h = harness(
    clientMachine,
    CLIENT_WORK,
    { id: 'c1', totalRounds, policy: clientPolicy(opts.policy), ...resume, ...selected },
    {
      durations: CLIENT_DURATIONS,
      outputs: {
        trainPrivate: () => ({ loss: 1 }),
        computePublicLogits: (input: { round: number }) => ({ logits: slm('c1', input.round) }),
        alignLLMTokens: (input: { round: number }) => ({ teacher: teacher(`llm${input.round}`) }),
        distillFromLLM: () => ({ loss: 1 }),
      },
      hooks: {
        uploadLogits: (input: { round: number }, c: Client) => {
          c.sendAt(200, llmMessage(input.round));
          if (input.round < totalRounds) c.sendAt(250, roundStart(input.round + 1));
        },
        // The server announces the finish while the client evaluates its last round.
        evaluate: (input: { round: number }, c: Client) => {
          if (input.round === totalRounds) c.sendAt(1, finishMessage(input.round));
        },
        ...opts.hooks,
      },
      fail: opts.fail,
      ...(opts.actions ? { actions: opts.actions } : {}),
    },
  );
  if (opts.announceFirst ?? true) h.sendAt(1, roundStart(opts.selectedRound ?? (opts.resumeAfterRound ?? 0) + 1));
  return h;
}

const FULL_ROUND = ['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'alignLLMTokens', 'distillFromLLM', 'roundEnd'];

describe('client machine', () => {
  it('5. full round order; early LLM logits are kept and used; duplicate and older LLM logits are ignored', async () => {
    const stateAtEarly: string[] = [];
    const c = client({
      totalRounds: 2,
      hooks: {
        uploadLogits: (input: { round: number }, h: Client) => {
          if (input.round === 1) h.sendAt(200, llmMessage(1));
        },
        distillFromLLM: (input: { round: number }, h: Client) => {
          if (input.round === 1) h.sendAt(50, roundStart(2));
        },
        trainPrivate: (input: { round: number }, h: Client) => {
          if (input.round !== 2) return;
          h.at(30, () => {
            h.actor.send(llmMessage(2));
            stateAtEarly.push(JSON.stringify(h.actor.getSnapshot().value));
          });
          h.sendAt(40, llmMessage(2, 'll2-again'));
          h.sendAt(60, llmMessage(1, 'll1-again'));
        },
      },
    });
    await c.run();

    expect(c.trace[0]!.state).toBe('evaluateZeroShot');
    expect(c.statesIn(1)).toEqual(FULL_ROUND);
    // Round 2: the logits were already there, so awaitLLMLogits is passed through without resting.
    expect(c.statesIn(2)).toEqual([...FULL_ROUND.filter((s) => s !== 'awaitLLMLogits'), 'done']);
    expect(stateAtEarly).toEqual([JSON.stringify({ round: 'trainPrivate' })]);

    const upload2 = c.callsOf('uploadLogits').find((x) => x.input.round === 2)!;
    const align2 = c.callsOf('alignLLMTokens').find((x) => x.input.round === 2)!;
    expect(align2.start).toBe(upload2.end); // no waiting
    expect(align2.input).toEqual({ round: 2, llmLogits: llm(2), ownLogits: slm('c1', 2) });
    expect(align2.input.llmLogits).toBe(llm(2));
    const align1 = c.callsOf('alignLLMTokens').find((x) => x.input.round === 1)!;
    expect(align1.start).toBe(c.callsOf('uploadLogits')[0]!.start + 200);
    expect(c.callsOf('distillFromLLM').map((x) => x.input)).toEqual([
      { round: 1, llmTeacher: teacher('llm1'), ownLogits: slm('c1', 1) },
      { round: 2, llmTeacher: teacher('llm2'), ownLogits: slm('c1', 2) },
    ]);
    expect(c.callsOf('uploadLogits').map((x) => x.input)).toEqual([
      { round: 1, logits: slm('c1', 1) },
      { round: 2, logits: slm('c1', 2) },
    ]);

    expect(c.recordsOf('accepted').map((r) => [r.message, r.round, r.messageId])).toEqual([
      ['round-start', 1, 'rs1'],
      ['llm-logits', 1, 'll1'],
      ['round-start', 2, 'rs2'],
      ['llm-logits', 2, 'll2'],
      ['finish', 2, 'fin2'],
    ]);
    expect(c.recordsOf('ignored')).toEqual([
      { type: 'ignored', round: 2, atRound: 2, messageId: 'll2-again', sender: 'server', message: 'llm-logits', reason: 'duplicate' },
      { type: 'ignored', round: 1, atRound: 2, messageId: 'll1-again', sender: 'server', message: 'llm-logits', reason: 'late' },
    ]);
    // The duplicate did not replace the first message.
    expect(c.actor.getSnapshot().context.llmLogits?.messageId).toBe('ll2');
    expect(c.callsOf('evaluate').map((x) => x.input.round)).toEqual([0, 1, 2]);
    expect(c.actor.getSnapshot().value).toBe('done');
  });

  it('6a. no LLM logits by the deadline, self-distil: deadline record, distillation with llmTeacher null', async () => {
    const c = client({ hooks: { uploadLogits: () => undefined } });
    await c.run();

    const upload = c.callsOf('uploadLogits')[0]!;
    expect(c.records.filter((r) => r.type === 'deadline')).toEqual([
      { type: 'deadline', round: 1, state: 'awaitLLMLogits', action: 'self-distil', t: upload.end! + 1000 },
    ]);
    expect(c.callsOf('alignLLMTokens')).toEqual([]);
    expect(c.callsOf('distillFromLLM').map((x) => [x.start, x.input])).toEqual([[upload.end! + 1000, { round: 1, llmTeacher: null, ownLogits: slm('c1', 1) }]]);
    expect(c.statesIn(1)).toEqual(['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'distillFromLLM', 'roundEnd', 'done']);
    expect(c.actor.getSnapshot().context.missedLLM).toBe('deadline');
  });

  it('6b. no LLM logits by the deadline, skip: no distillation, the round ends', async () => {
    const c = client({ policy: { onMissingLLMLogits: 'skip' }, hooks: { uploadLogits: () => undefined } });
    await c.run();

    const upload = c.callsOf('uploadLogits')[0]!;
    expect(c.recordsOf('deadline')).toEqual([{ type: 'deadline', round: 1, state: 'awaitLLMLogits', action: 'skip' }]);
    expect(c.callsOf('distillFromLLM')).toEqual([]);
    expect(c.callsOf('alignLLMTokens')).toEqual([]);
    expect(c.statesIn(1)).toEqual(['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'roundEnd', 'done']);
    expect(c.trace.find((e) => e.state === 'roundEnd')!.t).toBe(upload.end! + 1000);
    expect(c.actor.getSnapshot().context.missedLLM).toBe('deadline');
  });

  it('6c. a newer ROUND_START while awaiting the LLM logits: stops waiting (server-moved-on), then starts that round', async () => {
    const c = client({
      totalRounds: 2,
      hooks: {
        uploadLogits: (input: { round: number }, h: Client) => {
          if (input.round === 1) h.sendAt(300, roundStart(2));
          else h.sendAt(20, llmMessage(2));
        },
      },
    });
    await c.run();

    const upload1 = c.callsOf('uploadLogits')[0]!;
    const movedOn = upload1.start + 300;
    const round1 = c.trace.filter((e) => e.round === 1);
    expect(round1.map((e) => e.state)).toEqual(['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'distillFromLLM', 'roundEnd']);
    const distil1 = round1.find((e) => e.state === 'distillFromLLM')!;
    expect(distil1.t).toBe(movedOn);
    expect(distil1.context.missedLLM).toBe('server-moved-on');
    expect(distil1.context.announcedRound).toBe(2);
    expect(c.callsOf('distillFromLLM')[0]!.input).toEqual({ round: 1, llmTeacher: null, ownLogits: slm('c1', 1) });
    // Its deadline timer was cancelled: no deadline record, ever.
    expect(c.recordsOf('deadline')).toEqual([]);
    expect(c.statesIn(2)).toEqual([...FULL_ROUND, 'done']);
    expect(c.trace.find((e) => e.round === 2)!.context.missedLLM).toBeNull();
    expect(c.callsOf('trainPrivate').map((x) => x.input.round)).toEqual([1, 2]);
    expect(c.recordsOf('accepted').map((r) => [r.message, r.round])).toEqual([
      ['round-start', 1],
      ['round-start', 2],
      ['llm-logits', 2],
      ['finish', 2],
    ]);
    expect(c.actor.getSnapshot().value).toBe('done');
  });

  it('6d. round r+1 announced while it still trained in round r (a straggler): after its upload it does not wait for logits that are not coming', async () => {
    const c = client({
      totalRounds: 2,
      hooks: {
        // Round 2 is announced while round 1's private training runs; no LLM logits for round 1.
        trainPrivate: (input: { round: number }, h: Client) => {
          if (input.round === 1) h.sendAt(10, roundStart(2));
        },
        uploadLogits: (input: { round: number }, h: Client) => {
          if (input.round === 2) h.sendAt(20, llmMessage(2));
        },
      },
    });
    await c.run();

    const upload1 = c.callsOf('uploadLogits')[0]!;
    const round1 = c.trace.filter((e) => e.round === 1);
    // awaitLLMLogits is passed through without settling there: straight on at the end of the
    // upload, not at its 1000 ms deadline.
    expect(round1.map((e) => e.state)).toEqual(['trainPrivate', 'computePublicLogits', 'uploadLogits', 'distillFromLLM', 'roundEnd']);
    expect(round1.find((e) => e.state === 'distillFromLLM')!.t).toBe(upload1.end);
    expect(round1.find((e) => e.state === 'distillFromLLM')!.context.missedLLM).toBe('server-moved-on');
    expect(c.recordsOf('deadline')).toEqual([]);
    expect(c.statesIn(2)).toEqual([...FULL_ROUND, 'done']);
  });

  it('7a. no round announcement within serverSilenceMs: fails, naming the server as gone', async () => {
    const c = client({ announceFirst: false, policy: { serverSilenceMs: 5000 } });
    await c.run();

    expect(c.trace.map((e) => [e.state, e.t])).toEqual([
      ['evaluateZeroShot', 0],
      ['waitForRound', 5],
      ['failed', 5005],
    ]);
    const snap = c.actor.getSnapshot();
    expect(snap.status).toBe('done');
    expect(snap.value).toBe('failed');
    expect(snap.context.failure).toMatch(/server gone/);
    expect(c.callsOf('trainPrivate')).toEqual([]);
  });

  it('7b. no announcement of the next round after a completed one: fails, naming the server as gone', async () => {
    const c = client({
      totalRounds: 2,
      policy: { serverSilenceMs: 5000 },
      hooks: { uploadLogits: (_input: unknown, h: Client) => h.sendAt(200, llmMessage(1)) },
    });
    await c.run();

    const roundEndDone = c.callsOf('evaluate').find((x) => x.input.round === 1)!.end!;
    expect(c.statesIn(1)).toEqual([...FULL_ROUND, 'waitForRound', 'failed']);
    expect(c.trace.at(-1)!.t).toBe(roundEndDone + 5000);
    expect(c.actor.getSnapshot().context.failure).toMatch(/server gone/);
  });

  it('8a. fedAvg: uploads the adapter and applies the average of its round; without it, keeps the local adapter', async () => {
    const withAverage = client({
      policy: { fedAvg: true },
      hooks: {
        uploadAdapter: (input: { round: number }, h: Client) => {
          h.sendAt(5, averageMessage(input.round - 1)); // an old average: ignored
          h.sendAt(50, averageMessage(input.round));
        },
      },
    });
    await withAverage.run();
    const fedAvgStates = ['fedAvg.uploadAdapter', 'fedAvg.awaitAverage'];
    expect(withAverage.statesIn(1)).toEqual([...FULL_ROUND.slice(0, -1), ...fedAvgStates, 'fedAvg.applyAverage', 'roundEnd', 'done']);
    expect(withAverage.callsOf('uploadAdapter').map((x) => x.input)).toEqual([{ round: 1 }]);
    expect(withAverage.callsOf('applyAdapterAverage').map((x) => [x.start, x.input])).toEqual([
      [withAverage.callsOf('uploadAdapter')[0]!.start + 50, { round: 1, tensors: averageMessage(1).tensors }],
    ]);
    expect(withAverage.recordsOf('accepted').filter((r) => r.message === 'adapter-average')).toEqual([
      { type: 'accepted', round: 1, messageId: 'aa1', sender: 'server', message: 'adapter-average' },
    ]);
    expect(withAverage.recordsOf('ignored')).toEqual([
      { type: 'ignored', round: 0, atRound: 1, messageId: 'aa0', sender: 'server', message: 'adapter-average', reason: 'late' },
    ]);
    expect(withAverage.recordsOf('deadline')).toEqual([]);

    const without = client({ policy: { fedAvg: true } });
    await without.run();
    const awaitEntered = without.callsOf('uploadAdapter')[0]!.end!;
    expect(without.statesIn(1)).toEqual([...FULL_ROUND.slice(0, -1), ...fedAvgStates, 'roundEnd', 'done']);
    expect(without.records.filter((r) => r.type === 'deadline')).toEqual([
      { type: 'deadline', round: 1, state: 'fedAvg', action: 'keep-local-adapter', t: awaitEntered + 500 },
    ]);
    expect(without.callsOf('applyAdapterAverage')).toEqual([]);
    expect(without.actor.getSnapshot().context.adapterAverage).toBeNull();
    expect(without.actor.getSnapshot().value).toBe('done');
  });
});

// ---------------------------------------------------------------- failures

describe('11. the finish: acknowledged by every client, announced again until it is', () => {
  it('server: a client whose receipt never comes is told again every finishRetryMs, finishAttempts times, then the server ends naming it', async () => {
    const s = server({
      clients: ['c1', 'c2'],
      hooks: {
        announceFinish: (input: { round: number }, h: Server) => h.sendAt(10, finishAck('c1', input.round, `c1:fa${h.callsOf('announceFinish').length}`)),
      },
    });
    await s.run();
    const announced = s.callsOf('announceFinish');
    expect(announced.map((c) => c.input.reason)).toEqual(['completed', 'completed', 'completed']);
    // Each announcement 300 ms after the previous one was sent.
    expect(announced.slice(1).map((c, i) => c.start - announced[i]!.end!)).toEqual([300, 300]);
    expect(
      s
        .recordsOf('accepted')
        .filter((r) => r.message === 'finish-ack')
        .map((r) => r.messageId),
    ).toEqual(['c1:fa1']);
    expect(
      s
        .recordsOf('ignored')
        .filter((r) => r.message === 'finish-ack')
        .map((r) => [r.messageId, r.reason]),
    ).toEqual([
      ['c1:fa2', 'duplicate'],
      ['c1:fa3', 'duplicate'],
    ]);
    expect(s.recordsOf('deadline')).toEqual([{ type: 'deadline', round: 1, state: 'awaitFinishAcks', action: 'end-unacknowledged', missing: ['c2'] }]);
    expect(s.actor.getSnapshot().value).toBe('done');
  });

  it('server: a lost receipt costs one more announcement; the server is done once every client has acknowledged', async () => {
    const s = server({
      clients: ['c1', 'c2'],
      hooks: {
        announceFinish: (input: { round: number }, h: Server) => {
          const n = h.callsOf('announceFinish').length;
          h.sendAt(10, finishAck('c1', input.round, `c1:fa${n}`));
          if (n === 2) h.sendAt(20, finishAck('c2', input.round, `c2:fa${n}`));
        },
      },
    });
    await s.run();
    expect(s.callsOf('announceFinish')).toHaveLength(2);
    expect(s.recordsOf('deadline')).toEqual([]);
    expect(s.actor.getSnapshot().value).toBe('done');
    expect(s.actor.getSnapshot().context.finishAcks).toEqual(['c1', 'c2']);
  });

  it('client: acknowledges every copy of the finish but accepts only the first; a finish while awaiting the LLM logits ends the wait', async () => {
    const acks: number[] = [];
    const finish = (messageId: string) => ({ type: 'FINISH' as const, round: 1, sender: 'server', messageId, reason: 'completed' as const });
    const c = client({
      actions: { acknowledgeFinish: (_: unknown, params: { round: number }) => acks.push(params.round) },
      hooks: {
        evaluate: () => undefined,
        // The LLM logits of round 1 never come; the finish does, twice.
        uploadLogits: (_input: { round: number }, h: Client) => {
          h.sendAt(100, finish('f1'));
          h.sendAt(150, finish('f2'));
        },
      },
    });
    await c.run();
    expect(acks).toEqual([1, 1]);
    expect(
      c
        .recordsOf('accepted')
        .filter((r) => r.message === 'finish')
        .map((r) => r.messageId),
    ).toEqual(['f1']);
    expect(
      c
        .recordsOf('ignored')
        .filter((r) => r.message === 'finish')
        .map((r) => [r.messageId, r.reason]),
    ).toEqual([['f2', 'duplicate']]);
    expect(c.recordsOf('deadline')).toEqual([]);
    const left = c.trace.find((e) => e.state === 'distillFromLLM')!;
    // The finish came 100 ms after the upload started (the hook runs then): the wait ends there, not at the 1000 ms deadline.
    expect(left.t).toBe(c.callsOf('uploadLogits')[0]!.start + 100);
    expect(c.callsOf('distillFromLLM')[0]!.input.llmTeacher).toBeNull();
    expect(c.actor.getSnapshot().value).toBe('done');
  });
});

describe('12. after its last round a client waits for the finish', () => {
  it('acknowledges the finish and is done; a round announced past the last is ignored', async () => {
    const acks: number[] = [];
    const c = client({
      actions: { acknowledgeFinish: (_: unknown, params: { round: number }) => acks.push(params.round) },
      hooks: {
        evaluate: (input: { round: number }, h: Client) => {
          if (input.round !== 1) return;
          h.sendAt(100, roundStart(2));
          h.sendAt(3000, finishMessage(1));
        },
      },
    });
    await c.run();
    expect(c.statesIn(1).slice(-3)).toEqual(['roundEnd', 'waitForRound', 'done']);
    expect(c.recordsOf('ignored').map((r) => [r.message, r.round, r.reason])).toEqual([['round-start', 2, 'unexpected']]);
    expect(acks).toEqual([1]);
    expect(c.trace.at(-1)!.t).toBeGreaterThanOrEqual(3000);
  });

  it('without a finish, fails after the silence deadline naming the server as gone', async () => {
    const c = client({ hooks: { evaluate: () => undefined }, policy: { serverSilenceMs: 5000 } });
    await c.run();
    const snap = c.actor.getSnapshot();
    expect(snap.value).toBe('failed');
    expect(snap.context.failure).toBe('server gone: no finish announced after the last round before the silence deadline');
  });
});

describe('10. resuming from the checkpoints of round r', () => {
  it('server: no zero-shot evaluation, round r+1 is announced first, the run ends after totalRounds', async () => {
    const s = server({ totalRounds: 3, resumeAfterRound: 1 });
    await s.run();
    expect(s.trace[0]!.state).toBe('announceRound');
    expect(s.callsOf('evaluate').map((c) => c.input.round)).toEqual([2, 3]);
    expect(s.callsOf('announceRound').map((c) => c.input.round)).toEqual([2, 3]);
    expect(s.statesIn(2)).toEqual([...ROUND_STEPS, 'roundEnd']);
    expect(s.actor.getSnapshot().value).toBe('done');
  });

  it('server resumed after its last round: announces the finish and is done', async () => {
    const s = server({ totalRounds: 2, resumeAfterRound: 2 });
    await s.run();
    expect(s.callsOf('announceRound')).toEqual([]);
    expect(s.callsOf('evaluate')).toEqual([]);
    expect(s.callsOf('announceFinish').map((c) => c.input)).toEqual([{ round: 2, reason: 'completed', detail: '' }]);
    expect(s.actor.getSnapshot().value).toBe('done');
  });

  it('client: no zero-shot evaluation, waits for round r+1 and works it', async () => {
    const c = client({ totalRounds: 3, resumeAfterRound: 1 });
    await c.run();
    expect(c.callsOf('evaluate').map((call) => call.input.round)).toEqual([2, 3]);
    expect(c.callsOf('trainPrivate').map((call) => call.input.round)).toEqual([2, 3]);
    expect(c.statesIn(2)).toEqual(FULL_ROUND);
    expect(c.actor.getSnapshot().value).toBe('done');
  });
});

describe("13. a population's client lives for the round it was selected for", () => {
  it('waits for its announcement, works that round and is released, with no zero-shot evaluation', async () => {
    const c = client({ totalRounds: 3, selectedRound: 2 });
    await c.run();
    expect(c.statesIn(1)).toEqual(['awaitAnnouncement']);
    expect(c.statesIn(2)).toEqual([...FULL_ROUND, 'released']);
    expect(c.callsOf('evaluate').map((call) => call.input.round)).toEqual([2]);
    expect(c.actor.getSnapshot().value).toBe('released');
  });

  it("its round's LLM logits before its announcement (reordered) are kept and used", async () => {
    const c = client({
      totalRounds: 3,
      selectedRound: 2,
      announceFirst: false,
      hooks: { uploadLogits: () => undefined, evaluate: () => undefined },
    });
    c.sendAt(1, llmMessage(2));
    c.sendAt(5, roundStart(2));
    await c.run();
    // The logits already in hand, it does not wait for them.
    expect(c.statesIn(2)).toEqual([...FULL_ROUND.filter((state) => state !== 'awaitLLMLogits'), 'released']);
    expect(c.callsOf('alignLLMTokens').map((call) => call.input.llmLogits)).toEqual([llm(2)]);
    expect(c.recordsOf('ignored')).toEqual([]);
  });

  it('its announcement lost: leaves at the deadline, recorded, without waiting out the server', async () => {
    const c = client({ totalRounds: 3, selectedRound: 2, announceFirst: false, policy: { announcementDeadlineMs: 800 } });
    await c.run();
    expect(c.trace.map((e) => [e.state, e.t])).toEqual([
      ['awaitAnnouncement', 0],
      ['released', 800],
    ]);
    expect(c.recordsOf('deadline')).toEqual([{ type: 'deadline', round: 1, state: 'awaitAnnouncement', action: 'leave' }]);
    expect(c.callsOf('trainPrivate')).toEqual([]);
  });
});

describe('9. a work actor that throws ends the machine in failed, naming the step', () => {
  const serverSteps = SERVER_WORK;
  it.each(serverSteps)('server: %s', async (step) => {
    const s = server({
      clients: ['c1', 'c2'],
      policy: { fedAvg: true },
      fail: [step],
      hooks: {
        broadcastLLMLogits: (input: { round: number }, h: Server) => {
          for (const c of ['c1', 'c2']) h.sendAt(30, { type: 'ADAPTER', round: input.round, sender: c, messageId: `${c}:a`, tensors: adapter(c), weight: 1 });
        },
      },
    });
    await s.run();

    const snap = s.actor.getSnapshot();
    expect(snap.value).toBe('failed');
    expect(snap.status).toBe('done');
    expect(snap.context.failure).toBe(`${step}: Error: boom in ${step}`);
    expect(s.calls.at(-1)!.name).toBe(step);
  });

  it.each(CLIENT_WORK)('client: %s', async (step) => {
    const c = client({
      policy: { fedAvg: true },
      fail: [step],
      hooks: {
        uploadLogits: (input: { round: number }, h: Client) => h.sendAt(200, llmMessage(input.round)),
        uploadAdapter: (input: { round: number }, h: Client) => h.sendAt(50, averageMessage(input.round)),
      },
    });
    await c.run();

    const snap = c.actor.getSnapshot();
    expect(snap.value).toBe('failed');
    expect(snap.status).toBe('done');
    expect(snap.context.failure).toBe(`${step}: Error: boom in ${step}`);
    expect(c.calls.at(-1)!.name).toBe(step);
  });
});
