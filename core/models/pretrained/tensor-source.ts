/**
 * Tensors of a checkpoint on disk, read one at a time: each read goes from the file straight into
 * one float32 array (converted from F16, BF16 or llama2.c's Q8_0 on the way), so a model is
 * never held twice in memory while it loads.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { assertLittleEndian } from '../safetensors.js';

/** Where a tensor's bytes are and how they are stored. */
export interface StoredTensor {
  shape: number[];
  file: string;
  /** Byte offset of its data in the file. */
  offset: number;
  dtype: 'F32' | 'F16' | 'BF16' | 'Q8_0';
  /** Q8_0 only: values per scale; the float32 scales follow the int8 values. */
  groupSize?: number;
}

/** A checkpoint's tensors by their stored names. */
export class TensorSource {
  private readonly fds = new Map<string, number>();
  /** The last two tensors read, for layouts that slice a fused weight and its bias several times. */
  private recent: Array<{ name: string; values: Float32Array }> = [];

  constructor(
    /** The checkpoint's path, for messages. */
    readonly where: string,
    private readonly tensors: ReadonlyMap<string, StoredTensor>,
  ) {
    assertLittleEndian();
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): number[] {
    return this.entry(name).shape;
  }

  /** The values of tensor `name` as float32, row-major. */
  read(name: string): Float32Array {
    const kept = this.recent.find((r) => r.name === name);
    if (kept) return kept.values;
    const t = this.entry(name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (t.dtype === 'F32') this.readInto(t, t.offset, new Uint8Array(values.buffer));
    else if (t.dtype === 'Q8_0') dequantize(t, size, (at, into) => this.readInto(t, at, into), values);
    else {
      const halves = new Uint16Array(size);
      this.readInto(t, t.offset, new Uint8Array(halves.buffer));
      if (t.dtype === 'BF16') {
        const bits = new Uint32Array(values.buffer);
        for (let i = 0; i < size; i++) bits[i] = (halves[i] as number) << 16;
      } else for (let i = 0; i < size; i++) values[i] = halfToFloat(halves[i] as number);
    }
    this.recent = [{ name, values }, ...this.recent.slice(0, 1)];
    return values;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.recent = [];
  }

  private entry(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`checkpoint ${this.where}: no tensor '${name}'`);
    return t;
  }

  private readInto(t: StoredTensor, offset: number, into: Uint8Array): void {
    let fd = this.fds.get(t.file);
    if (fd === undefined) {
      fd = openSync(t.file, 'r');
      this.fds.set(t.file, fd);
    }
    let done = 0;
    while (done < into.length) {
      // one call reads at most 2 GiB
      const n = readSync(fd, into, done, Math.min(into.length - done, 1 << 30), offset + done);
      if (n === 0) throw new Error(`checkpoint ${this.where}: ${t.file} ends inside a tensor (offset ${offset + done})`);
      done += n;
    }
  }
}

/** Q8_0 (llama2.c v2): int8 values, then one float32 scale per group; value = int8 * scale. */
function dequantize(t: StoredTensor, size: number, read: (at: number, into: Uint8Array) => void, out: Float32Array): void {
  const group = t.groupSize as number;
  const q = new Int8Array(size);
  const scales = new Float32Array(size / group);
  read(t.offset, new Uint8Array(q.buffer));
  read(t.offset + size, new Uint8Array(scales.buffer));
  for (let i = 0; i < size; i++) out[i] = (q[i] as number) * (scales[(i / group) | 0] as number);
}

/** IEEE 754 half precision to a number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
