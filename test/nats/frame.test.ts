import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrames, headerBytes } from '../../core/transport/nats/frame.js';
import { Reassembler } from '../../core/transport/nats/reassembler.js';
import { isUploadSubject, patternWithin, patternsOverlap, subjectProblem } from '../../core/transport/nats/subject-rules.js';
import { captureLog, equalBytes, patternBytes, waitFor } from './helpers.js';

const SUBJECT = 'fedmkt.run.r1.slm-logits.c1';

function reassembler(timeoutMs = 5_000) {
  const log = captureLog();
  return { log, r: new Reassembler({ timeoutMs, maxMessageBytes: 1 << 24, dedupCapacity: 2, logger: log.logger, context: 'test' }) };
}

describe('frames', () => {
  it('split a payload into frames no larger than the limit and decode back', () => {
    const payload = patternBytes(10_000);
    const frames = encodeFrames(payload, { sender: 'c1', messageId: 'c1:7', maxFrameBytes: 1_000 });
    const bodyPerFrame = 1_000 - headerBytes('c1', 'c1:7');
    expect(frames.length).toBe(Math.ceil(10_000 / bodyPerFrame));
    for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(1_000);
    const decoded = frames.map((f) => decodeFrame(f));
    const joined = new Uint8Array(10_000);
    for (const d of decoded) {
      if (!d.ok) throw new Error(d.reason);
      expect(d.frame.sender).toBe('c1');
      expect(d.frame.messageId).toBe('c1:7');
      joined.set(d.frame.body, d.frame.offset);
    }
    expect(equalBytes(joined, payload)).toBe(true);
  });

  it('encode an empty payload as one frame', () => {
    const frames = encodeFrames(new Uint8Array(0), { sender: 's', messageId: 'm', maxFrameBytes: 100 });
    expect(frames).toHaveLength(1);
    const d = decodeFrame(frames[0] as Uint8Array);
    expect(d.ok && d.frame.total).toBe(0);
  });

  it('refuse a frame limit smaller than the header', () => {
    expect(() => encodeFrames(new Uint8Array(10), { sender: 'c1', messageId: 'x', maxFrameBytes: 33 })).toThrow(/leaves no room/);
  });

  it('report malformed frames without throwing', () => {
    const good = encodeFrames(patternBytes(100), { sender: 'c1', messageId: 'm', maxFrameBytes: 1_000 })[0] as Uint8Array;
    expect(decodeFrame(new Uint8Array(10))).toEqual({ ok: false, reason: expect.stringMatching(/shorter than the header/) });
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(decodeFrame(badMagic)).toMatchObject({ ok: false, reason: expect.stringMatching(/magic/) });
    const badIndex = good.slice();
    new DataView(badIndex.buffer).setUint32(4, 5);
    expect(decodeFrame(badIndex)).toMatchObject({ ok: false, reason: expect.stringMatching(/index 5 is not below/) });
    const badTotal = good.slice();
    new DataView(badTotal.buffer).setUint32(16, 10);
    expect(decodeFrame(badTotal)).toMatchObject({ ok: false, reason: expect.stringMatching(/outside the declared payload/) });
    expect(decodeFrame(good.subarray(0, 30))).toMatchObject({ ok: false });
  });
});

describe('reassembler', () => {
  it('reassembles chunks in any order and delivers once', () => {
    const { r } = reassembler();
    const payload = patternBytes(5_000, 3);
    const frames = encodeFrames(payload, { sender: 'c1', messageId: 'c1:1', maxFrameBytes: 700 });
    const order = frames.map((_, i) => i).reverse();
    const outcomes = order.map((i) => r.accept(SUBJECT, frames[i] as Uint8Array));
    const last = outcomes.at(-1);
    expect(outcomes.slice(0, -1).every((o) => o.kind === 'partial')).toBe(true);
    expect(last?.kind).toBe('complete');
    if (last?.kind === 'complete') expect(equalBytes(last.message.data, payload)).toBe(true);
    // the retry of a delivered message is a duplicate, its last chunk marked for re-acknowledging
    const again = frames.map((f) => r.accept(SUBJECT, f));
    expect(again.map((o) => o.kind)).toEqual(frames.map(() => 'duplicate'));
    expect(again.at(-1)).toMatchObject({ lastChunk: true });
  });

  it('rejects a corrupted chunk by checksum with a clear error', () => {
    const { r, log } = reassembler();
    const frames = encodeFrames(patternBytes(3_000), { sender: 'c1', messageId: 'c1:2', maxFrameBytes: 1_000 });
    const corrupted = (frames[1] as Uint8Array).slice();
    corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] as number) ^ 0xff;
    const outcomes = [frames[0], corrupted, ...frames.slice(2)].map((f) => r.accept(SUBJECT, f as Uint8Array));
    expect(outcomes.at(-1)).toMatchObject({ kind: 'corrupt', messageId: 'c1:2' });
    expect(log.errors).toEqual([
      expect.stringMatching(
        /integrity check failed for message c1:2 from c1 on "fedmkt.run.r1.slm-logits.c1": checksum of the reassembled 3000 bytes is [0-9a-f]{16}, the sender declared [0-9a-f]{16}/,
      ),
    ]);
    // not remembered as delivered: a clean retry goes through
    const retry = frames.map((f) => r.accept(SUBJECT, f));
    expect(retry.at(-1)?.kind).toBe('complete');
  });

  it('restarts a reassembly when a chunk disagrees with the earlier ones', () => {
    const { r, log } = reassembler();
    const a = encodeFrames(patternBytes(2_000, 1), { sender: 'c1', messageId: 'same', maxFrameBytes: 800 });
    const b = encodeFrames(patternBytes(2_000, 2), { sender: 'c1', messageId: 'same', maxFrameBytes: 800 });
    r.accept(SUBJECT, a[0] as Uint8Array);
    r.accept(SUBJECT, b[1] as Uint8Array);
    expect(log.errors[0]).toMatch(/disagrees with the chunks received before/);
    const outcomes = b.map((f) => r.accept(SUBJECT, f));
    expect(outcomes.at(-1)?.kind).toBe('complete');
  });

  it('drops a partial message after the reassembly timeout', async () => {
    const { r, log } = reassembler(50);
    const frames = encodeFrames(patternBytes(3_000), { sender: 'c2', messageId: 'c2:9', maxFrameBytes: 1_000 });
    r.accept(SUBJECT, frames[0] as Uint8Array);
    expect(r.pending).toBe(1);
    await waitFor('the timeout', () => log.errors.length > 0, 2_000);
    expect(r.pending).toBe(0);
    expect(log.errors[0]).toMatch(/reassembly of message c2:9 from c2 .* timed out: 1 of 4 chunks/);
  });

  it('rejects a declared size above the limit before allocating', () => {
    const log = captureLog();
    const r = new Reassembler({ timeoutMs: 1_000, maxMessageBytes: 100, dedupCapacity: 10, logger: log.logger, context: 't' });
    const frames = encodeFrames(patternBytes(500), { sender: 'c1', messageId: 'big', maxFrameBytes: 10_000 });
    expect(r.accept(SUBJECT, frames[0] as Uint8Array).kind).toBe('malformed');
    expect(log.errors[0]).toMatch(/declares 500 bytes, above the limit of 100/);
  });

  it('forgets the oldest delivered ids beyond its capacity', () => {
    const { r } = reassembler();
    const frame = (id: string) => encodeFrames(patternBytes(10), { sender: 'c1', messageId: id, maxFrameBytes: 1_000 })[0] as Uint8Array;
    for (const id of ['a', 'b', 'c']) expect(r.accept(SUBJECT, frame(id)).kind).toBe('complete');
    expect(r.accept(SUBJECT, frame('c')).kind).toBe('duplicate');
    expect(r.accept(SUBJECT, frame('a')).kind).toBe('complete');
  });
});

describe('subject rules', () => {
  it('recognises upload subjects', () => {
    expect(isUploadSubject('fedmkt.run.r3.slm-logits.c1')).toBe(true);
    expect(isUploadSubject('fedmkt.run.r3.adapter.c2')).toBe(true);
    expect(isUploadSubject('fedmkt.run.r3.llm-logits')).toBe(false);
    expect(isUploadSubject('fedmkt.run.events.c1')).toBe(false);
    expect(isUploadSubject('other.run.r3.adapter.c2')).toBe(false);
  });

  it('validates subjects and patterns', () => {
    expect(subjectProblem('a.b.c', false)).toBeUndefined();
    expect(subjectProblem('a.*.c', false)).toMatch(/wildcard/);
    expect(subjectProblem('a.*.>', true)).toBeUndefined();
    expect(subjectProblem('a.>.c', true)).toMatch(/only be the last/);
    expect(subjectProblem('a..c', true)).toMatch(/token 2 is empty/);
  });

  it('decides overlap and containment of patterns', () => {
    expect(patternsOverlap('fedmkt.run.>', 'fedmkt.run.*.adapter.*')).toBe(true);
    expect(patternsOverlap('fedmkt.run.*.llm-logits', 'fedmkt.run.*.adapter.*')).toBe(false);
    expect(patternsOverlap('fedmkt.run.r1.*.c1', 'fedmkt.run.*.adapter.*')).toBe(true);
    expect(patternWithin('fedmkt.run.*.adapter.c1', 'fedmkt.run.*.adapter.*')).toBe(true);
    expect(patternWithin('fedmkt.run.>', 'fedmkt.run.*.adapter.*')).toBe(false);
    expect(patternWithin('fedmkt.run.r1.adapter.>', 'fedmkt.run.*.adapter.*')).toBe(false);
  });
});
