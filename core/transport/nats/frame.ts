import { CHECKSUM_BYTES, hexOf, scanMessage } from '../../protocol/message-scan.js';

/**
 * Every message the NATS transport sends is one or more frames: a fixed binary header, the
 * sender and message id, then a slice of the payload. The header carries the codec's checksum
 * of the whole payload (docs/wire.md) so the receiver can check the reassembled bytes
 * (accidental damage and reassembly mistakes; tampering is kept out by TLS and subject
 * permissions instead).
 *
 *   0  'F' 'M' 'K' version(3)
 *   4  u32 chunk index          8  u32 chunk count
 *  12  u32 byte offset of this chunk's body in the payload
 *  16  u32 payload length      20  8-byte payload checksum
 *  28  u8 sender length, sender (utf-8), u16 message id length, message id (utf-8), body
 */
const FRAME_VERSION = 3;
const MAGIC = [0x46, 0x4d, 0x4b] as const;
const CHECKSUM_AT = 20;
const FIXED_HEADER_BYTES = CHECKSUM_AT + CHECKSUM_BYTES;
/** Payload lengths are u32. */
const MAX_PAYLOAD_BYTES = 0xffff_ffff;

interface Frame {
  index: number;
  count: number;
  offset: number;
  total: number;
  /** The payload's checksum, as hex. */
  checksum: string;
  sender: string;
  messageId: string;
  body: Uint8Array;
}

export type DecodeResult = { ok: true; frame: Frame } | { ok: false; reason: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function headerBytes(sender: string, messageId: string): number {
  return FIXED_HEADER_BYTES + 1 + encoder.encode(sender).length + 2 + encoder.encode(messageId).length;
}

export interface EncodeOptions {
  sender: string;
  messageId: string;
  /** Largest frame (header included) the connection accepts. */
  maxFrameBytes: number;
}

/** Split `payload` into frames of at most `maxFrameBytes` bytes each (at least one frame). */
export function encodeFrames(payload: Uint8Array, options: EncodeOptions): Uint8Array[] {
  const sender = encoder.encode(options.sender);
  const messageId = encoder.encode(options.messageId);
  if (sender.length > 0xff) throw new Error(`frame: sender "${options.sender}" is ${sender.length} bytes of utf-8, at most 255 allowed`);
  if (messageId.length > 0xffff) throw new Error(`frame: message id of ${messageId.length} bytes, at most 65535 allowed`);
  if (payload.length > MAX_PAYLOAD_BYTES) throw new Error(`frame: payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const header = FIXED_HEADER_BYTES + 1 + sender.length + 2 + messageId.length;
  const bodyMax = options.maxFrameBytes - header;
  if (bodyMax < 1) {
    throw new Error(`frame: max frame size ${options.maxFrameBytes} leaves no room for a body after a ${header}-byte header`);
  }
  const checksum = scanMessage(payload, payload.length).checksum;
  const count = Math.max(1, Math.ceil(payload.length / bodyMax));
  const frames: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const offset = index * bodyMax;
    const body = payload.subarray(offset, Math.min(payload.length, offset + bodyMax));
    // Every byte is written below, so skip the zero fill; a plain Uint8Array keeps slice() a copy.
    const memory = Buffer.allocUnsafeSlow(header + body.length);
    const frame = new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    frame.set(MAGIC, 0);
    frame[3] = FRAME_VERSION;
    view.setUint32(4, index);
    view.setUint32(8, count);
    view.setUint32(12, offset);
    view.setUint32(16, payload.length);
    frame.set(checksum, CHECKSUM_AT);
    let at = FIXED_HEADER_BYTES;
    frame[at++] = sender.length;
    frame.set(sender, at);
    at += sender.length;
    view.setUint16(at, messageId.length);
    at += 2;
    frame.set(messageId, at);
    at += messageId.length;
    frame.set(body, at);
    frames.push(frame);
  }
  return frames;
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Parse one frame; never throws: a malformed frame comes back with the reason. */
export function decodeFrame(data: Uint8Array): DecodeResult {
  if (data.length < FIXED_HEADER_BYTES + 3) return { ok: false, reason: `frame of ${data.length} bytes is shorter than the header` };
  if (data[0] !== MAGIC[0] || data[1] !== MAGIC[1] || data[2] !== MAGIC[2]) {
    return { ok: false, reason: 'frame does not start with the FMK magic (not sent by the fedmkt NATS transport)' };
  }
  if (data[3] !== FRAME_VERSION) return { ok: false, reason: `frame version ${data[3]} is not the supported version ${FRAME_VERSION}` };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const index = view.getUint32(4);
  const count = view.getUint32(8);
  const offset = view.getUint32(12);
  const total = view.getUint32(16);
  if (count === 0) return { ok: false, reason: 'frame declares a chunk count of 0' };
  if (index >= count) return { ok: false, reason: `frame chunk index ${index} is not below its chunk count ${count}` };
  let at = FIXED_HEADER_BYTES;
  const senderLength = data[at++] as number;
  if (at + senderLength + 2 > data.length) return { ok: false, reason: 'frame sender runs past the end of the frame' };
  const sender = utf8(data.subarray(at, at + senderLength));
  at += senderLength;
  const idLength = view.getUint16(at);
  at += 2;
  if (at + idLength > data.length) return { ok: false, reason: 'frame message id runs past the end of the frame' };
  const messageId = utf8(data.subarray(at, at + idLength));
  at += idLength;
  if (sender === undefined || messageId === undefined) return { ok: false, reason: 'frame sender or message id is not valid utf-8' };
  const body = data.subarray(at);
  if (offset + body.length > total) {
    return { ok: false, reason: `frame body [${offset}, ${offset + body.length}) lies outside the declared payload of ${total} bytes` };
  }
  return {
    ok: true,
    frame: { index, count, offset, total, checksum: hexOf(data.subarray(CHECKSUM_AT, CHECKSUM_AT + CHECKSUM_BYTES)), sender, messageId, body },
  };
}
