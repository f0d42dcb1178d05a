/**
 * The invariant checker on hand-broken traces: each invariant is caught and described by the
 * few events that show it, with their line numbers in events.jsonl.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import type { RunEvent } from '../../core/records.js';
import { checkInvariants, formatViolation, type InvariantOptions } from '../../core/invariants/check.js';
import { bigramLearning, bigramScenario } from './helpers.js';

const options: InvariantOptions = { clients: ['c1', 'c2', 'c3', 'c4'], quorum: 2, acceptWithinRounds: 0 };
let clean: RunEvent[];

beforeAll(async () => {
  const result = await runFederation(bigramScenario(), { learning: bigramLearning() });
  clean = result.recorder.events;
});

const copy = () => clean.map((e) => ({ ...e }));
const indexOf = (events: RunEvent[], pred: (e: RunEvent) => boolean) => events.findIndex(pred);
const isUpload = (sender: string, round: number) => (e: RunEvent) => e.kind === 'accepted' && e.actor === 'server' && e.sender === sender && e.round === round;

describe('invariant checker', () => {
  it('a sound run has no violation', () => {
    expect(checkInvariants(clean, options)).toEqual([]);
  });

  it('validated: an accepted message that was never delivered (e.g. it was rejected)', () => {
    const events = copy();
    const accepted = events[indexOf(events, isUpload('c2', 2))]!;
    const deliver = indexOf(events, (e) => e.kind === 'deliver' && e.actor === 'server' && e.id === accepted.messageId);
    events.splice(deliver, 1, { t: accepted.t, actor: 'server', round: 2, kind: 'reject', error: 'checksum mismatch' });
    const [v, ...rest] = checkInvariants(events, options);
    expect(rest).toEqual([]);
    expect(v).toMatchObject({
      invariant: 'validated',
      message: `server accepted slm-logits ${accepted.messageId} from c2, which was never delivered to it (no validated copy arrived)`,
    });
    expect(v!.lines).toEqual([events.indexOf(accepted) + 1]);
  });

  it('once: an upload accepted twice, counted twice toward its round', () => {
    const events = copy();
    const at = indexOf(events, isUpload('c3', 1));
    events.splice(at + 1, 0, { ...events[at]! });
    const violations = checkInvariants(events, options);
    expect(violations.map((v) => [v.invariant, v.message, v.lines])).toEqual([
      ['once', `server accepted slm-logits ${events[at]!.messageId} twice`, [at + 1, at + 2]],
      ['once', 'server counted two slm-logits uploads from c3 toward round 1', [at + 1, at + 2]],
    ]);
    expect(formatViolation(violations[0]!)).toMatch(new RegExp(`^\\[once\\] server accepted slm-logits c3:1 twice\\n    events.jsonl:${at + 1} \\{`));
  });

  it('round: an upload of round 1 accepted in round 2, outside the staleness bound', () => {
    const events = copy();
    const accepted = events[indexOf(events, isUpload('c1', 2))]!;
    const deliver = events.find((e) => e.kind === 'deliver' && e.actor === 'server' && e.id === accepted.messageId)!;
    deliver.msgRound = 1;
    const [v] = checkInvariants(events, options);
    expect(v).toMatchObject({
      invariant: 'round',
      message: `server accepted slm-logits ${accepted.messageId} of round 1 from c1 in round 2 (late uploads count within 0 rounds)`,
    });
    expect(v!.lines).toContain(events.indexOf(deliver) + 1);
    expect(v!.lines).toContain(events.indexOf(accepted) + 1);
    // Within the policy's bound it is allowed.
    expect(checkInvariants(events, { ...options, acceptWithinRounds: 1 })).toEqual([]);
  });

  it('quorum and kept: the server distils from fewer uploads than its quorum, and not from all it accepted', () => {
    const events = copy();
    const selected = events.find((e) => e.kind === 'selected' && e.actor === 'server' && e.round === 2)!;
    for (const c of ['c2', 'c3', 'c4']) delete selected[c];
    const violations = checkInvariants(events, options);
    expect(violations.map((v) => v.invariant)).toEqual(['quorum', 'kept', 'kept', 'kept']);
    expect(violations[0]!.message).toBe('server distilled round 2 from 1 upload, below its quorum of 2');
    expect(violations[1]!.message).toBe("server accepted c2's upload for round 2 but did not distil from it (lost)");
  });

  it('known-state: an unknown state, and an actor that ends mid-round without a recorded crash', () => {
    const events = copy();
    const at = indexOf(events, (e) => e.kind === 'state' && e.actor === 'c2' && e.state === 'trainPrivate' && e.round === 2);
    events.splice(at + 1, 0, { t: events[at]!.t, actor: 'c2', round: 2, kind: 'state', state: 'dancing' });
    const cut = indexOf(events, (e) => e.kind === 'state' && e.actor === 'c4' && e.state === 'awaitLLMLogits' && e.round === 3);
    const truncated = events.slice(0, cut + 1);
    const violations = checkInvariants(truncated, options).filter((v) => v.invariant === 'known-state');
    expect(violations.map((v) => v.message)).toContain('c2 is in "dancing", not a state of the client machine');
    const midRound = 'c4 ended the run in round 3 in "awaitLLMLogits", neither done nor failed nor down after a recorded crash';
    expect(violations.map((v) => v.message)).toContain(midRound);
    // Down after a recorded crash it never came back from: a known end.
    const crashed = [...truncated, { t: truncated[cut]!.t, actor: 'c4', round: 3, kind: 'crash' as const, state: 'awaitLLMLogits' }];
    expect(checkInvariants(crashed, options).map((v) => v.message)).not.toContain(midRound);
  });
});
