/**
 * The wire codec: an {@link Envelope} as one standard msgpack map.
 *
 *   { v, run, round, sender, id, body, sum }
 *
 * - Typed arrays are msgpack ext type 0x74 as msgpackr's `moreTypes` writes them (one byte naming
 *   the array class, then the raw little-endian elements), so a payload is written with one copy.
 *   Any msgpack library reads the plain fields; msgpackr also restores the typed arrays.
 * - The encoder places each array's elements at a multiple of their size from the first byte
 *   (aligned-msgpack.ts), and the decoder returns aligned arrays as views of the received bytes,
 *   not copies: decoding a round's logits copies nothing but the header. Decoded arrays therefore
 *   share memory with the message; nobody writes to a received message.
 * - `sum` is always the last entry, an 8-byte bin: the XXH64 checksum (message-scan.ts) of
 *   every byte before it. Decoding checks it in the same pass that checks the arrays' values
 *   (finite floats, ids within the vocabulary), and a mismatch is reported as corruption before
 *   any other finding, so damaged bytes that still parse as another message are refused too.
 * - Logit payloads may use a compact form (see `logit-encodings.ts`): the logits map then
 *   carries `logitEncoding` ('f16' | 'q8'), and ids may be Uint8Array / Uint16Array.
 */
import { addExtension, clearSource, Unpackr } from 'msgpackr';
import { packAligned, type WireValue } from './aligned-msgpack.js';
import { encodeFloat16, narrowIds, quantiseLogProbs } from './logit-encodings.js';
import { CHECKSUM_BYTES, ChecksumWriter, FLOAT_MAGNITUDE, hexOf, NON_FINITE_BITS, scanMessage, WHOLE_WORD, type WordRange } from './message-scan.js';
import { PROTOCOL_VERSION, type Envelope, type MessageBody, type PublicLogits } from './messages.js';
import { ProtocolError } from './protocol-error.js';
import { checkLogitsShape, immediateChecks, MessageScope, messageLabel, validateEnvelope, type DecodeContext, type ValueChecks } from './validate.js';

export type { DecodeContext } from './validate.js';

/** How top-K logits travel: exact float32, float16, or 8-bit quantised log-probabilities. */
export type LogitEncoding = 'f32' | 'f16' | 'q8';

export interface EncodeOptions {
  /** Default 'f32' (exact). 'f16' and 'q8' are lossy; bounds in `logit-encodings.ts`. */
  logits?: LogitEncoding;
  /** Write ids in the narrowest array that holds them. Default: on unless `logits` is 'f32'. */
  narrowIds?: boolean;
}

const unpackr = new Unpackr({ moreTypes: true, useRecords: false, structuredClone: false, mapsAsObjects: true });

/** `"sum"` as a fixstr key, then a bin8 of 8 bytes: the last 14 bytes are this plus the checksum. */
const TRAILER = Uint8Array.of(0xa3, 0x73, 0x75, 0x6d, 0xc4, CHECKSUM_BYTES);
const TRAILER_BYTES = TRAILER.length + CHECKSUM_BYTES;

export function encodeMessage(envelope: Envelope, options: EncodeOptions = {}): Uint8Array {
  const { v, run, round, sender, id, body } = envelope;
  const scope = new MessageScope(`encoding ${messageLabel(body.type, sender, round)}`);
  const wire: WireValue = { v, run, round, sender, id, body: wireBody(scope, body, options), sum: Buffer.alloc(CHECKSUM_BYTES) };
  let checksum: ChecksumWriter | undefined;
  const bytes = packAligned(wire, (written, to) => (checksum ??= new ChecksumWriter(written)).written(to));
  if (!hasTrailer(bytes)) throw new Error('encodeMessage: the map does not end with the sum entry');
  const end = bytes.length - CHECKSUM_BYTES;
  bytes.set((checksum ?? new ChecksumWriter(bytes)).finish(end), end);
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
    throw new ProtocolError('truncated', 'sum', `${scope.label}: no sum entry at the end: truncated, or its last ${TRAILER_BYTES} bytes are corrupted`);
  }
  const end = size - CHECKSUM_BYTES;
  const unread = scope.label; // corrupted bytes name no sender: the header read below may be damaged
  // Read first (arrays as views), then one pass checks the checksum and the arrays' values together.
  const checks = new GatheredChecks(scope);
  let envelope: Envelope | undefined;
  let failure: unknown;
  try {
    envelope = validateEnvelope(unpackViews(bytes, scope), context, scope, checks);
  } catch (error) {
    failure = error;
  }
  const ranges = envelope ? checks.ranges(bytes, end) : [];
  const scan = scanMessage(
    bytes,
    end,
    ranges.map((r) => r.range),
  );
  const carried = bytes.subarray(end);
  if (!scan.checksum.every((b, i) => b === carried[i])) {
    throw new ProtocolError(
      'corrupted',
      'sum',
      `${unread}: checksum mismatch (carried ${hexOf(carried)}, computed ${hexOf(scan.checksum)}): corrupted in transit`,
    );
  }
  if (failure !== undefined || !envelope) throw failure;
  checks.verify(ranges, scan.largest);
  return envelope;
}

/**
 * msgpackr's reader of ext 0x74 (typed arrays), except that while `decodeMessage` unpacks, an
 * aligned array is returned as a view of the message instead of a copy. Other users of msgpackr
 * in the process get msgpackr's behaviour (always a copy).
 */
const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
let viewsOf: ArrayBufferLike | undefined;

addExtension({
  type: 0x74,
  unpack(data: Uint8Array): unknown {
    const code = data[0] as number;
    const Class = TYPED_ARRAYS[code];
    const start = data.byteOffset + 1;
    const byteLength = data.length - 1;
    if (Class && data.buffer === viewsOf && start % Class.BYTES_PER_ELEMENT === 0 && byteLength % Class.BYTES_PER_ELEMENT === 0) {
      return new Class(data.buffer as ArrayBuffer, start, byteLength / Class.BYTES_PER_ELEMENT);
    }
    const copy = Uint8Array.prototype.slice.call(data, 1).buffer;
    if (Class) return new Class(copy);
    if (code === 16) return copy;
    if (code === 17) return new DataView(copy);
    throw new Error(`Could not find typed array for code ${code}`);
  },
});

function unpackViews(bytes: Uint8Array, scope: MessageScope): unknown {
  let raw: unknown;
  viewsOf = bytes.buffer;
  try {
    raw = unpackr.unpack(bytes);
  } catch (error) {
    clearSource(); // msgpackr keeps a failed message's bytes otherwise
    throw new ProtocolError('malformed', '', `${scope.label}: not valid msgpack: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    viewsOf = undefined;
  }
  const sum = (raw as { sum?: unknown } | null)?.sum;
  if (!(sum instanceof Uint8Array) || sum.length !== CHECKSUM_BYTES) {
    throw new ProtocolError('malformed', 'sum', `${scope.label}: the map does not end with its ${CHECKSUM_BYTES}-byte sum entry`);
  }
  return raw;
}

type Gathered =
  | { kind: 'finite'; values: Float32Array; path: string }
  | { kind: 'ids'; ids: Int32Array; path: string; vocab: number | undefined; tokenizer: string };

/** Value checks gathered while reading, run in the message scan where the array is in the message. */
class GatheredChecks implements ValueChecks {
  private readonly list: Gathered[] = [];
  private readonly now: ValueChecks;
  constructor(scope: MessageScope) {
    this.now = immediateChecks(scope);
  }

  finite(values: Float32Array, path: string): void {
    this.list.push({ kind: 'finite', values, path });
  }

  ids(ids: Int32Array, path: string, vocab: number | undefined, tokenizer: string): void {
    this.list.push({ kind: 'ids', ids, path, vocab, tokenizer });
  }

  /** Each check with its word range in the message, where its array is an aligned view of it. */
  ranges(bytes: Uint8Array, end: number): Array<{ check: Gathered; range: WordRange }> {
    const out: Array<{ check: Gathered; range: WordRange }> = [];
    for (const check of this.list) {
      const array = check.kind === 'finite' ? check.values : check.ids;
      const offset = array.byteOffset - bytes.byteOffset;
      if (array.buffer !== bytes.buffer || offset % 4 !== 0 || offset < 0 || offset + array.byteLength > end) continue;
      out.push({ check, range: { offset, words: array.length, mask: check.kind === 'finite' ? FLOAT_MAGNITUDE : WHOLE_WORD } });
    }
    return out;
  }

  /** Throws for the first failing check, in the order they were met, naming its first bad entry. */
  verify(scanned: Array<{ check: Gathered; range: WordRange }>, largest: number[]): void {
    const passed = new Set<Gathered>();
    scanned.forEach(({ check }, i) => {
      const top = largest[i] as number;
      const ok = check.kind === 'finite' ? top < NON_FINITE_BITS : top <= (check.vocab === undefined ? 0x7fffffff : check.vocab - 1);
      if (ok) passed.add(check);
    });
    for (const check of this.list) {
      if (passed.has(check)) continue;
      if (check.kind === 'finite') this.now.finite(check.values, check.path);
      else this.now.ids(check.ids, check.path, check.vocab, check.tokenizer);
    }
  }
}

function wireBody(scope: MessageScope, body: MessageBody, options: EncodeOptions): WireValue {
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
      return body.to === undefined
        ? { type: body.type, uploadDeadline: body.uploadDeadline }
        : { type: body.type, uploadDeadline: body.uploadDeadline, to: body.to };
    case 'finish':
      return body.detail === undefined ? { type: body.type, reason: body.reason } : { type: body.type, reason: body.reason, detail: body.detail };
    case 'finish-ack':
      return { type: body.type };
  }
}

function wireLogits(scope: MessageScope, logits: PublicLogits, options: EncodeOptions): WireValue {
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
