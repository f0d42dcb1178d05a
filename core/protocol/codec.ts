/**
 * The wire codec: an {@link Envelope} as one standard msgpack map.
 *
 *   { v, run, round, sender, id, body, crc }
 *
 * - Typed arrays are msgpack ext type 0x74 (msgpackr's `moreTypes`: one byte naming the
 *   array class, then the raw little-endian elements), so a payload is written with one copy.
 *   Any msgpack library reads the plain fields; msgpackr also restores the typed arrays.
 * - `crc` is always the last entry, a 4-byte bin: the CRC-32 (zlib polynomial, big-endian) of
 *   every byte before it. Decoding checks it before unpacking, so corruption is refused even
 *   where the damaged bytes would still parse as another message.
 * - Logit payloads may use a compact form (see `logit-encodings.ts`): the logits map then
 *   carries `logitEncoding` ('f16' | 'q8'), and ids may be Uint8Array / Uint16Array.
 */
import { clearSource, Packr, Unpackr } from 'msgpackr';
import { crc32 } from './crc32.js';
import { encodeFloat16, narrowIds, quantiseLogProbs } from './logit-encodings.js';
import { PROTOCOL_VERSION, type Envelope, type MessageBody, type PublicLogits } from './messages.js';
import { ProtocolError } from './protocol-error.js';
import { checkLogitsShape, MessageScope, messageLabel, validateEnvelope, type DecodeContext } from './validate.js';

export type { DecodeContext } from './validate.js';

/** How top-K logits travel: exact float32, float16, or 8-bit quantised log-probabilities. */
export type LogitEncoding = 'f32' | 'f16' | 'q8';

export interface EncodeOptions {
  /** Default 'f32' (exact). 'f16' and 'q8' are lossy; bounds in `logit-encodings.ts`. */
  logits?: LogitEncoding;
  /** Write ids in the narrowest array that holds them. Default: on unless `logits` is 'f32'. */
  narrowIds?: boolean;
}

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false, bundleStrings: false });
const unpackr = new Unpackr({ moreTypes: true, useRecords: false, structuredClone: false, mapsAsObjects: true });

/** `"crc"` as a fixstr key, then a bin8 of 4 bytes: the last 10 bytes are this plus the CRC. */
const TRAILER = Uint8Array.of(0xa3, 0x63, 0x72, 0x63, 0xc4, 0x04);
const TRAILER_BYTES = TRAILER.length + 4;
const CRC_PLACEHOLDER = Buffer.alloc(4);
/** msgpackr refuses to start packing with less than 0x800 bytes free in its buffer. */
const PACKR_HEADROOM = 0x800 + 64;
const IDLE_BUFFER = Buffer.alloc(64);

export function encodeMessage(envelope: Envelope, options: EncodeOptions = {}): Uint8Array {
  const { v, run, round, sender, id, body } = envelope;
  const scope = new MessageScope(`encoding ${messageLabel(body.type, sender, round)}`);
  const wire = { v, run, round, sender, id, body: wireBody(scope, body, options), crc: CRC_PLACEHOLDER };
  // One buffer sized up front: msgpackr would otherwise grow (and copy) a large payload
  // several times. The message owns its buffer; msgpackr writes every byte of the message,
  // and the unused tail is zeroed so that no stale memory travels with `.buffer`.
  const target = Buffer.allocUnsafeSlow(packedSizeBound(wire) + PACKR_HEADROOM);
  packr.useBuffer(target);
  let packed: Uint8Array;
  try {
    packed = packr.pack(wire);
  } finally {
    packr.useBuffer(IDLE_BUFFER);
  }
  target.fill(0, packed.byteOffset + packed.byteLength);
  const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  const end = bytes.length - 4;
  if (!hasTrailer(bytes)) throw new Error('encodeMessage: msgpackr did not end the map with the crc entry');
  new DataView(bytes.buffer, bytes.byteOffset + end, 4).setUint32(0, crc32(bytes.subarray(0, end)));
  return bytes;
}

export function decodeMessage(bytes: Uint8Array, context: DecodeContext): Envelope {
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError('ill-typed', '', `decodeMessage: expected the message as a Uint8Array, got ${typeof bytes}`);
  }
  const size = bytes.length;
  const scope = new MessageScope(`message of ${size} bytes`);
  if (context.maxBytes !== undefined && size > context.maxBytes) {
    throw new ProtocolError('oversized', '', `${scope.label}: over the limit of ${context.maxBytes} bytes, refused unread`);
  }
  if (!isMapHeader(bytes[0])) {
    const first = size === 0 ? 'empty' : `first byte 0x${(bytes[0] as number).toString(16).padStart(2, '0')}`;
    throw new ProtocolError('malformed', '', `${scope.label}: not a FedMKT envelope (${first}, expected a msgpack map)`);
  }
  const version = peekVersion(bytes);
  if (version !== undefined && version !== PROTOCOL_VERSION) {
    throw new ProtocolError('unknown-version', 'v', `${scope.label}: v is ${version}, an unknown protocol version (this build speaks ${PROTOCOL_VERSION})`);
  }
  if (!hasTrailer(bytes)) {
    throw new ProtocolError('truncated', 'crc', `${scope.label}: no crc entry at the end: truncated, or its last ${TRAILER_BYTES} bytes are corrupted`);
  }
  const end = size - 4;
  const carried = new DataView(bytes.buffer, bytes.byteOffset + end, 4).getUint32(0);
  const computed = crc32(bytes.subarray(0, end));
  if (carried !== computed) {
    throw new ProtocolError(
      'corrupted',
      'crc',
      `${scope.label}: CRC-32 mismatch (carried 0x${hex32(carried)}, computed 0x${hex32(computed)}): corrupted in transit`,
    );
  }
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (error) {
    clearSource(); // msgpackr keeps a failed message's bytes otherwise
    throw new ProtocolError('malformed', '', `${scope.label}: not valid msgpack: ${error instanceof Error ? error.message : String(error)}`);
  }
  const crc = (raw as { crc?: unknown } | null)?.crc;
  if (!(crc instanceof Uint8Array) || crc.length !== 4) {
    throw new ProtocolError('malformed', 'crc', `${scope.label}: the map does not end with its 4-byte crc entry`);
  }
  return validateEnvelope(raw, context, scope);
}

function wireBody(scope: MessageScope, body: MessageBody, options: EncodeOptions): Record<string, unknown> {
  switch (body.type) {
    case 'slm-logits':
    case 'llm-logits':
      return { type: body.type, logits: wireLogits(scope, body.logits, options) };
    case 'adapter':
      checkTensorShapes(scope, body.tensors);
      return { type: body.type, tensors: body.tensors, weight: body.weight };
    case 'adapter-average':
      checkTensorShapes(scope, body.tensors);
      return { type: body.type, tensors: body.tensors, contributors: body.contributors };
    case 'round-start':
      return { type: body.type, uploadDeadline: body.uploadDeadline };
    case 'finish':
      return body.detail === undefined
        ? { type: body.type, reason: body.reason }
        : { type: body.type, reason: body.reason, detail: body.detail };
  }
}

function wireLogits(scope: MessageScope, logits: PublicLogits, options: EncodeOptions): Record<string, unknown> {
  const path = 'body.logits';
  checkLogitsShape(scope, logits, path);
  const encoding = options.logits ?? 'f32';
  const narrow = options.narrowIds ?? encoding !== 'f32';
  const ids = (values: Int32Array) => (narrow ? narrowIds(values) : values);
  const head = {
    tokenizer: logits.tokenizer,
    topK: logits.topK,
    lengths: logits.lengths,
    tokenIds: ids(logits.tokenIds),
    topKIds: ids(logits.topKIds),
  };
  const invalid = (i: number, problem: string): never => scope.fail('unencodable', `${path}.topKLogits[${i}]`, problem);
  switch (encoding) {
    case 'f32':
      return { ...head, topKLogits: logits.topKLogits, ce: logits.ce };
    case 'f16':
      return { ...head, logitEncoding: encoding, topKLogits: encodeFloat16(logits.topKLogits, invalid), ce: logits.ce };
    case 'q8': {
      const q = quantiseLogProbs(logits.topKLogits, logits.topK, invalid);
      return { ...head, logitEncoding: encoding, topKLogits: q.codes, logitScale: q.scale, logitOffset: q.offset, ce: logits.ce };
    }
    default:
      return scope.fail('unencodable', path, `unknown logit encoding ${JSON.stringify(encoding)} (use 'f32', 'f16' or 'q8')`);
  }
}

function checkTensorShapes(scope: MessageScope, tensors: Record<string, { shape: number[]; values: Float32Array }>): void {
  for (const [name, { shape, values }] of Object.entries(tensors)) {
    if (name === '__proto__') scope.fail('unencodable', `body.tensors.${name}`, 'is not a portable tensor name');
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      scope.fail('shape', `body.tensors.${name}.values`, `has ${values.length} entries, expected ${size} (the product of shape [${shape.join(', ')}])`);
    }
  }
}

/** An upper bound of msgpackr's output for `value` (strings at 3 bytes per UTF-16 unit). */
function packedSizeBound(value: unknown): number {
  if (ArrayBuffer.isView(value)) return value.byteLength + 8;
  if (typeof value === 'string') return value.length * 3 + 8;
  if (Array.isArray(value)) {
    let n = 5;
    for (const item of value) n += packedSizeBound(item);
    return n;
  }
  if (typeof value === 'object' && value !== null) {
    let n = 5;
    for (const [key, item] of Object.entries(value)) n += key.length * 3 + 8 + packedSizeBound(item);
    return n;
  }
  return 9;
}

function isMapHeader(byte: number | undefined): boolean {
  return byte !== undefined && ((byte & 0xf0) === 0x80 || byte === 0xde || byte === 0xdf);
}

/** The `v` field if the map opens with it as a small integer, for a clear version error. */
function peekVersion(bytes: Uint8Array): number | undefined {
  const first = bytes[0] as number;
  const keyAt = (first & 0xf0) === 0x80 ? 1 : first === 0xde ? 3 : 5;
  if (bytes[keyAt] !== 0xa1 || bytes[keyAt + 1] !== 0x76) return undefined;
  const value = bytes[keyAt + 2];
  return value !== undefined && value < 0x80 ? value : undefined;
}

function hasTrailer(bytes: Uint8Array): boolean {
  if (bytes.length < TRAILER_BYTES + 1) return false;
  const at = bytes.length - TRAILER_BYTES;
  for (let i = 0; i < TRAILER.length; i++) if (bytes[at + i] !== TRAILER[i]) return false;
  return true;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
