import { decodeFloat16, dequantiseLogProbs } from './logit-encodings.js';
import { MESSAGE_TYPES, PROTOCOL_VERSION, type ActorId, type Envelope, type MessageBody, type MessageType, type PublicLogits } from './messages.js';
import { ProtocolError, type ProtocolErrorCode } from './protocol-error.js';
import { isFromClient, isUpload } from './subjects.js';

/** What the receiver knows about the scenario, to judge an incoming message by. */
export interface DecodeContext {
  /** Every actor id of the scenario (`server`, `c1`, ...); a population's ids are told, not listed. */
  knownSenders: ReadonlySet<string> | { has(id: string): boolean };
  /** Public-set size: logits must cover exactly this many samples. */
  expectedSamples?: number;
  /** Messages longer than this are refused before decoding. */
  maxBytes?: number;
  /** Vocabulary size of a tokenizer by registry name; undefined when unknown. */
  vocabSize?: (tokenizer: string) => number | undefined;
}

const SERVER: ActorId = 'server';

/** Names the message in error texts: `slm-logits from c2 (round 3)` once its header is read. */
export class MessageScope {
  constructor(public label: string) {}

  fail(code: ProtocolErrorCode, path: string, problem: string): never {
    throw new ProtocolError(code, path, `${this.label}: ${shownPath(path)} ${problem}`);
  }
}

export function messageLabel(type: string, sender: string, round: number): string {
  return `${type} from ${sender} (round ${round})`;
}

/** `body.logits.topKLogits[3]` reads `topKLogits[3]` in messages; the full path stays in `.path`. */
function shownPath(path: string): string {
  if (path === '') return 'envelope';
  if (path.startsWith('body.logits.')) return path.slice('body.logits.'.length);
  if (path.startsWith('body.') && path !== 'body.type') return path.slice('body.'.length);
  return path;
}

function withArticle(name: string): string {
  return /^[aeio]/i.test(name) ? `an ${name}` : `a ${name}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return withArticle(value.constructor.name);
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return withArticle(value.constructor?.name ?? 'null-prototype object');
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function record(scope: MessageScope, value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) scope.fail('ill-typed', path, `must be a map, got ${describe(value)}`);
  return value;
}

function field(scope: MessageScope, obj: Record<string, unknown>, key: string, path: string): unknown {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  if (value === undefined) scope.fail('missing-field', join(path, key), 'is missing');
  return value;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function text(scope: MessageScope, value: unknown, path: string): string {
  if (typeof value !== 'string') scope.fail('ill-typed', path, `must be a string, got ${describe(value)}`);
  if (value.length === 0) scope.fail('out-of-range', path, 'must not be empty');
  return value;
}

function integer(scope: MessageScope, value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    scope.fail('ill-typed', path, `must be an integer, got ${describe(value)}`);
  }
  if (value < min) scope.fail('out-of-range', path, `must be at least ${min}, got ${value}`);
  return value;
}

function finiteNumber(scope: MessageScope, value: unknown, path: string): number {
  if (typeof value !== 'number') scope.fail('ill-typed', path, `must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) scope.fail('non-finite', path, `is ${value}`);
  return value;
}

type TypedArrayClass<T> = { new (length: number): T; readonly name: string };

function typedArray<T>(scope: MessageScope, value: unknown, path: string, kind: TypedArrayClass<T>): T {
  if (!(value instanceof kind)) scope.fail('ill-typed', path, `must be ${withArticle(kind.name)}, got ${describe(value)}`);
  return value;
}

function expectLength(scope: MessageScope, array: { length: number }, expected: number, path: string, why: string): void {
  if (array.length !== expected) {
    scope.fail('shape', path, `has ${array.length} entries, expected ${expected} (${why})`);
  }
}

/**
 * The value checks of a message's arrays: floats finite, token ids within the vocabulary. By
 * default they run where they are met; the codec gathers them to run inside its one pass over
 * the message's bytes (message-scan.ts), and then calls these to name the first bad entry.
 */
export interface ValueChecks {
  finite(values: Float32Array, path: string): void;
  ids(ids: Int32Array, path: string, vocab: number | undefined, tokenizer: string): void;
}

export function immediateChecks(scope: MessageScope): ValueChecks {
  return {
    finite: (values, path) => checkFinite(scope, values, path),
    ids: (ids, path, vocab, tokenizer) => checkIds(scope, ids, path, vocab, tokenizer),
  };
}

/** Rejects NaN and ±Infinity. One branch-free pass over the float bits; a second only on failure. */
function checkFinite(scope: MessageScope, values: Float32Array, path: string): void {
  if (largestMagnitudeBits(values) < 0x7f800000) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) scope.fail('non-finite', `${path}[${i}]`, `is ${v}`);
  }
}

/** max |bits| with the sign cleared: 0x7f800000 or more means NaN or Infinity somewhere. */
function largestMagnitudeBits(values: Float32Array): number {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const n = bits.length;
  const unrolled = n & ~3;
  // Four independent maxima: the loop is bound by instruction count, not by one dependency chain.
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i < unrolled; i += 4) {
    const w = (bits[i] as number) & 0x7fffffff;
    const x = (bits[i + 1] as number) & 0x7fffffff;
    const y = (bits[i + 2] as number) & 0x7fffffff;
    const z = (bits[i + 3] as number) & 0x7fffffff;
    a = Math.max(w, a);
    b = Math.max(x, b);
    c = Math.max(y, c);
    d = Math.max(z, d);
  }
  for (; i < n; i++) {
    const w = (bits[i] as number) & 0x7fffffff;
    a = Math.max(w, a);
  }
  return Math.max(a, b, c, d);
}

/** Rejects ids outside [0, vocab); vocab undefined checks only the sign. */
function checkIds(scope: MessageScope, ids: Int32Array, path: string, vocab: number | undefined, tokenizer: string): void {
  const maxId = vocab === undefined ? 0x7fffffff : vocab - 1;
  if (!anyIdOutside(ids, maxId)) return;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id < 0) scope.fail('out-of-range', `${path}[${i}]`, `is ${id}, a negative token id`);
    if (id > maxId) scope.fail('out-of-range', `${path}[${i}]`, `is ${id}, not below the vocabulary size ${vocab} of ${tokenizer}`);
  }
}

/** Sign bit of `id | (maxId - id)` is set exactly when id < 0 or id > maxId (both int32). */
function anyIdOutside(ids: Int32Array, maxId: number): boolean {
  const n = ids.length;
  const unrolled = n & ~3;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i < unrolled; i += 4) {
    const w = ids[i] as number;
    const x = ids[i + 1] as number;
    const y = ids[i + 2] as number;
    const z = ids[i + 3] as number;
    a |= w | ((maxId - w) | 0);
    b |= x | ((maxId - x) | 0);
    c |= y | ((maxId - y) | 0);
    d |= z | ((maxId - z) | 0);
  }
  for (; i < n; i++) {
    const w = ids[i] as number;
    a |= w | ((maxId - w) | 0);
  }
  return (a | b | c | d) < 0;
}

function countPositions(scope: MessageScope, lengths: Int32Array, path: string, expectedSamples: number | undefined): number {
  if (expectedSamples !== undefined && lengths.length !== expectedSamples) {
    scope.fail('shape', path, `covers ${lengths.length} samples, expected ${expectedSamples} (the public set)`);
  }
  let positions = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i] as number;
    if (n < 0) scope.fail('out-of-range', `${path}[${i}]`, `is ${n}, a negative length`);
    positions += n;
  }
  return positions;
}

/**
 * Shape rules of {@link PublicLogits}: lengths non-negative, sum(lengths) token ids,
 * sum(lengths) * topK top-K ids and logits, one ce per sample (= expectedSamples if given).
 * Returns the position count. Used by the decoder and, before sending, by the encoder.
 */
export function checkLogitsShape(scope: MessageScope, logits: PublicLogits, path: string, expectedSamples?: number): number {
  const topK = integer(scope, logits.topK, `${path}.topK`, 1);
  const positions = countPositions(scope, logits.lengths, `${path}.lengths`, expectedSamples);
  const why = `sum(lengths) ${positions} * topK ${topK}`;
  expectLength(scope, logits.tokenIds, positions, `${path}.tokenIds`, 'sum(lengths)');
  expectLength(scope, logits.topKIds, positions * topK, `${path}.topKIds`, why);
  expectLength(scope, logits.topKLogits, positions * topK, `${path}.topKLogits`, why);
  expectLength(scope, logits.ce, logits.lengths.length, `${path}.ce`, 'one per sample, lengths.length');
  return positions;
}

function idArray(scope: MessageScope, value: unknown, path: string): Int32Array {
  if (value instanceof Int32Array) return value;
  if (value instanceof Uint16Array || value instanceof Uint8Array) return new Int32Array(value);
  return scope.fail('ill-typed', path, `must be an Int32Array (or a narrowed Uint16Array / Uint8Array), got ${describe(value)}`);
}

function readTopKLogits(scope: MessageScope, checks: ValueChecks, raw: Record<string, unknown>, path: string, topK: number, positions: number): Float32Array {
  const encoding = raw.logitEncoding ?? 'f32';
  const entries = positions * topK;
  const why = `sum(lengths) ${positions} * topK ${topK}`;
  const valuesPath = `${path}.topKLogits`;
  const values = field(scope, raw, 'topKLogits', path);
  switch (encoding) {
    case 'f32': {
      const logits = typedArray(scope, values, valuesPath, Float32Array);
      expectLength(scope, logits, entries, valuesPath, why);
      return logits;
    }
    case 'f16': {
      const halves = typedArray(scope, values, valuesPath, Uint16Array);
      expectLength(scope, halves, entries, valuesPath, why);
      return decodeFloat16(halves);
    }
    case 'q8': {
      const codes = typedArray(scope, values, valuesPath, Uint8Array);
      expectLength(scope, codes, entries, valuesPath, why);
      const scale = typedArray(scope, field(scope, raw, 'logitScale', path), `${path}.logitScale`, Float32Array);
      const offset = typedArray(scope, field(scope, raw, 'logitOffset', path), `${path}.logitOffset`, Float32Array);
      expectLength(scope, scale, positions, `${path}.logitScale`, 'one per position');
      expectLength(scope, offset, positions, `${path}.logitOffset`, 'one per position');
      checks.finite(scale, `${path}.logitScale`);
      checks.finite(offset, `${path}.logitOffset`);
      for (let p = 0; p < positions; p++) {
        if ((scale[p] as number) < 0) scope.fail('out-of-range', `${path}.logitScale[${p}]`, `is ${scale[p]}, a negative step`);
      }
      return dequantiseLogProbs({ codes, scale, offset }, topK);
    }
    default:
      return scope.fail('ill-typed', `${path}.logitEncoding`, `must be 'f32', 'f16' or 'q8', got ${describe(encoding)}`);
  }
}

function readPublicLogits(scope: MessageScope, checks: ValueChecks, value: unknown, path: string, context: DecodeContext): PublicLogits {
  const raw = record(scope, value, path);
  const tokenizer = text(scope, field(scope, raw, 'tokenizer', path), `${path}.tokenizer`);
  const topK = integer(scope, field(scope, raw, 'topK', path), `${path}.topK`, 1);
  const lengths = typedArray(scope, field(scope, raw, 'lengths', path), `${path}.lengths`, Int32Array);
  const tokenIds = idArray(scope, field(scope, raw, 'tokenIds', path), `${path}.tokenIds`);
  const topKIds = idArray(scope, field(scope, raw, 'topKIds', path), `${path}.topKIds`);
  const ce = typedArray(scope, field(scope, raw, 'ce', path), `${path}.ce`, Float32Array);
  const positions = countPositions(scope, lengths, `${path}.lengths`, context.expectedSamples);
  expectLength(scope, tokenIds, positions, `${path}.tokenIds`, 'sum(lengths)');
  expectLength(scope, topKIds, positions * topK, `${path}.topKIds`, `sum(lengths) ${positions} * topK ${topK}`);
  expectLength(scope, ce, lengths.length, `${path}.ce`, 'one per sample, lengths.length');
  const topKLogits = readTopKLogits(scope, checks, raw, path, topK, positions);

  checks.finite(ce, `${path}.ce`);
  for (let i = 0; i < ce.length; i++) {
    if ((ce[i] as number) < 0) scope.fail('out-of-range', `${path}.ce[${i}]`, `is ${ce[i]}, a negative cross-entropy`);
  }
  const vocab = context.vocabSize?.(tokenizer);
  checks.ids(tokenIds, `${path}.tokenIds`, vocab, tokenizer);
  checks.ids(topKIds, `${path}.topKIds`, vocab, tokenizer);
  checks.finite(topKLogits, `${path}.topKLogits`);
  return { tokenizer, topK, lengths, tokenIds, topKIds, topKLogits, ce };
}

type Tensors = Record<string, { shape: number[]; values: Float32Array }>;

function readTensors(scope: MessageScope, checks: ValueChecks, value: unknown, path: string): Tensors {
  const raw = record(scope, value, path);
  const tensors: Tensors = {};
  for (const [name, entry] of Object.entries(raw)) {
    const at = `${path}.${name}`;
    const tensor = record(scope, entry, at);
    const shapeRaw = field(scope, tensor, 'shape', at);
    if (!Array.isArray(shapeRaw)) scope.fail('ill-typed', `${at}.shape`, `must be an array of integers, got ${describe(shapeRaw)}`);
    const shape = shapeRaw.map((dim: unknown, i) => integer(scope, dim, `${at}.shape[${i}]`, 0));
    const values = typedArray(scope, field(scope, tensor, 'values', at), `${at}.values`, Float32Array);
    const size = shape.reduce((a, b) => a * b, 1);
    expectLength(scope, values, size, `${at}.values`, `the product of shape [${shape.join(', ')}]`);
    checks.finite(values, `${at}.values`);
    Object.defineProperty(tensors, name, { value: { shape, values }, enumerable: true, writable: true, configurable: true });
  }
  return tensors;
}

function readBody(scope: MessageScope, checks: ValueChecks, type: MessageType, raw: Record<string, unknown>, context: DecodeContext): MessageBody {
  switch (type) {
    case 'round-start': {
      const uploadDeadline = finiteNumber(scope, field(scope, raw, 'uploadDeadline', 'body'), 'body.uploadDeadline');
      if (raw.to === undefined || raw.to === null) return { type, uploadDeadline };
      const to = text(scope, raw.to, 'body.to');
      if (!context.knownSenders.has(to)) scope.fail('unknown-sender', 'body.to', `"${to}" is not in the scenario`);
      return { type, uploadDeadline, to };
    }
    case 'slm-logits':
    case 'llm-logits':
      return { type, logits: readPublicLogits(scope, checks, field(scope, raw, 'logits', 'body'), 'body.logits', context) };
    case 'adapter': {
      const tensors = readTensors(scope, checks, field(scope, raw, 'tensors', 'body'), 'body.tensors');
      const weight = finiteNumber(scope, field(scope, raw, 'weight', 'body'), 'body.weight');
      if (weight <= 0) scope.fail('out-of-range', 'body.weight', `must be positive, got ${weight}`);
      return { type, tensors, weight };
    }
    case 'adapter-average': {
      const tensors = readTensors(scope, checks, field(scope, raw, 'tensors', 'body'), 'body.tensors');
      const list = field(scope, raw, 'contributors', 'body');
      if (!Array.isArray(list)) scope.fail('ill-typed', 'body.contributors', `must be an array of actor ids, got ${describe(list)}`);
      const contributors = list.map((entry: unknown, i) => {
        const id = text(scope, entry, `body.contributors[${i}]`);
        if (!context.knownSenders.has(id)) scope.fail('unknown-sender', `body.contributors[${i}]`, `"${id}" is not in the scenario`);
        if (list.indexOf(entry) !== i) scope.fail('out-of-range', `body.contributors[${i}]`, `"${id}" is listed twice`);
        return id;
      });
      return { type, tensors, contributors };
    }
    case 'finish': {
      const reason = field(scope, raw, 'reason', 'body');
      if (reason !== 'completed' && reason !== 'aborted') {
        scope.fail('ill-typed', 'body.reason', `must be 'completed' or 'aborted', got ${describe(reason)}`);
      }
      const detail = raw.detail;
      if (detail === undefined || detail === null) return { type, reason };
      if (typeof detail !== 'string') scope.fail('ill-typed', 'body.detail', `must be a string, got ${describe(detail)}`);
      return { type, reason, detail };
    }
    case 'finish-ack':
      return { type };
  }
}

/**
 * Checks an unpacked message against the protocol and the scenario and returns it as an
 * {@link Envelope} (compact logit encodings restored to Float32Array / Int32Array).
 * Throws {@link ProtocolError} naming the first problem found.
 */
export function validateEnvelope(
  raw: unknown,
  context: DecodeContext,
  scope = new MessageScope('message'),
  checks: ValueChecks = immediateChecks(scope),
): Envelope {
  const env = record(scope, raw, '');
  const v = field(scope, env, 'v', '');
  if (v !== PROTOCOL_VERSION) {
    scope.fail('unknown-version', 'v', `is ${describe(v)}, an unknown protocol version (this build speaks ${PROTOCOL_VERSION})`);
  }
  const run = text(scope, field(scope, env, 'run', ''), 'run');
  const round = integer(scope, field(scope, env, 'round', ''), 'round', 0);
  const sender = text(scope, field(scope, env, 'sender', ''), 'sender');
  const id = text(scope, field(scope, env, 'id', ''), 'id');
  const body = record(scope, field(scope, env, 'body', ''), 'body');
  const type = field(scope, body, 'type', 'body');
  if (typeof type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    scope.fail('unknown-type', 'body.type', `is ${describe(type)}, not a message type (${MESSAGE_TYPES.join(', ')})`);
  }
  const messageType = type as MessageType;
  scope.label = messageLabel(messageType, sender, round);
  if (!context.knownSenders.has(sender)) {
    const known = context.knownSenders instanceof Set ? [...context.knownSenders].join(', ') : 'the server and the population';
    scope.fail('unknown-sender', 'sender', `"${sender}" is not in the scenario (${known})`);
  }
  if (isFromClient(messageType) === (sender === SERVER)) {
    scope.fail(
      'wrong-sender',
      'sender',
      isFromClient(messageType)
        ? `"${sender}" may not ${isUpload(messageType) ? 'upload' : 'send'} ${messageType}: only clients do`
        : `"${sender}" may not send ${messageType}: only the server does`,
    );
  }
  return { v: PROTOCOL_VERSION, run, round, sender, id, body: readBody(scope, checks, messageType, body, context) };
}
