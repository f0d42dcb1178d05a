/**
 * The safetensors file format (F32 only), as Hugging Face's `safetensors` reads it:
 *
 *   u64 little-endian N | N bytes of JSON header | raw little-endian data
 *
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end) } relative to
 * the start of the data, plus an optional "__metadata__" of string values. Tensors are laid
 * out contiguously in name order; the header is padded with spaces to a multiple of 8 bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';

export type TensorRecord = Record<string, { shape: number[]; values: Float32Array }>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');
}

export function encodeSafetensors(tensors: TensorRecord, metadata: Record<string, string> = {}): Buffer {
  assertLittleEndian();
  const names = Object.keys(tensors).sort();
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name] as TensorRecord[string];
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.values.length !== size) throw new Error(`safetensors: tensor '${name}' has ${t.values.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + size * 4] };
    offset += size * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const v = (tensors[name] as TensorRecord[string]).values;
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, at);
    at += v.byteLength;
  }
  return out;
}

/** One tensor's entry in a safetensors header: its dtype, shape and data bytes [begin, end). */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Bytes per element of the dtypes this project reads. */
const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

/**
 * The header of a safetensors file: its length (the 8 bytes at the start), then, from the JSON
 * that follows, every tensor's entry (checked against `dataLength` bytes of data and `dtypes`)
 * and the metadata.
 */
export function parseSafetensorsHeader(
  json: Buffer,
  dataLength: number,
  source: string,
  dtypes: readonly string[] = Object.keys(SAFETENSORS_DTYPE_BYTES),
): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`safetensors ${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as Partial<HeaderEntry>;
    const bytes = entry.dtype === undefined ? undefined : SAFETENSORS_DTYPE_BYTES[entry.dtype];
    if (bytes === undefined || !dtypes.includes(entry.dtype as string)) {
      throw new Error(
        `safetensors ${source}: tensor '${name}' has dtype ${entry.dtype}; only ${dtypes.join(', ')} ${dtypes.length === 1 ? 'is' : 'are'} supported`,
      );
    }
    const shape = entry.shape;
    const offsets = entry.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`safetensors ${source}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      throw new Error(`safetensors ${source}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets;
    const size = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== size * bytes || begin < 0 || end > dataLength) {
      throw new Error(`safetensors ${source}: tensor '${name}' data_offsets [${begin}, ${end}) do not fit shape [${shape}] in ${dataLength} data bytes`);
    }
    entries.push({ name, dtype: entry.dtype as string, shape, begin, end });
  }
  return { entries, metadata };
}

export function decodeSafetensors(bytes: Buffer, source = 'buffer'): { tensors: TensorRecord; metadata: Record<string, string> } {
  assertLittleEndian();
  if (bytes.length < 8) throw new Error(`safetensors ${source}: ${bytes.length} bytes is too short for a header length`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) {
    throw new Error(`safetensors ${source}: header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  }
  const dataStart = 8 + headerLength;
  const { entries, metadata } = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source, ['F32']);
  const tensors: TensorRecord = {};
  for (const { name, shape, begin, end } of entries) {
    // copy: the file buffer's offsets need not be 4-byte aligned
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    Buffer.from(values.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { shape, values };
  }
  return { tensors, metadata };
}

export async function writeSafetensors(path: string, tensors: TensorRecord, metadata?: Record<string, string>): Promise<void> {
  await writeFile(path, encodeSafetensors(tensors, metadata));
}

export async function readSafetensors(path: string): Promise<{ tensors: TensorRecord; metadata: Record<string, string> }> {
  return decodeSafetensors(await readFile(path), path);
}
