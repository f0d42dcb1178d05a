/**
 * msgpack as msgpackr writes it with `moreTypes` (typed arrays as ext type 0x74: a byte naming the
 * array class, then the raw little-endian elements; a Buffer as bin), except for one thing: the
 * elements of each typed array start at a multiple of their size from the first byte. Where the
 * canonical headers would not put them there, the writer widens the length header of the array's
 * key (str8 or str16 for a short key) or of its ext (ext16 or ext32). Every msgpack reader accepts
 * wider headers, so this is still standard msgpack; aligned arrays let the decoder return views
 * of the received bytes instead of copies.
 *
 * One size pass, one write pass (the same walk), into a buffer of exactly the message's size.
 */

/** What the wire holds: msgpackr's moreTypes values that FedMKT messages use. */
export type WireValue = null | boolean | number | string | Buffer | TypedArray | readonly WireValue[] | { readonly [key: string]: WireValue };

type TypedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** msgpackr's type codes of typed arrays (the byte after 0x74). */
const TYPED_ARRAY_CODES = new Map<string, number>(
  ['Int8', 'Uint8', 'Uint8Clamped', 'Int16', 'Uint16', 'Int32', 'Uint32', 'Float32', 'Float64', 'BigInt64', 'BigUint64'].map((name, code) => [
    `${name}Array`,
    code,
  ]),
);

/** Bytes from an ext's first byte to its array's first element (type byte and class byte included). */
const EXT8 = 4;
const EXT16 = 5;
const EXT32 = 7;

/** Arrays above this size are copied in pieces of it, each reported to `written` while in cache. */
const PIECE = 1 << 20;

/**
 * `value` as one msgpack message in a buffer of its own (byteOffset 0, so alignment is absolute).
 * `written(to)`, if given, is told as the writing goes that bytes [0, to) are final.
 */
export function packAligned(value: WireValue, written?: (bytes: Uint8Array, to: number) => void): Uint8Array {
  const size = new Walk(null).value(value, '').position;
  const memory = Buffer.allocUnsafeSlow(size);
  const bytes = new Uint8Array(memory.buffer, memory.byteOffset, size);
  const length = new Walk(bytes, written).value(value, '').position;
  if (length !== size) throw new Error(`packAligned: wrote ${length} bytes, measured ${size}`);
  return bytes;
}

/** Walks a value, writing it when given bytes, only measuring it when given null. */
class Walk {
  position = 0;
  private readonly view: DataView | null;
  private readonly text: Buffer | null;
  constructor(
    private readonly out: Uint8Array | null,
    private readonly written?: (bytes: Uint8Array, to: number) => void,
  ) {
    this.view = out ? new DataView(out.buffer, out.byteOffset, out.byteLength) : null;
    this.text = out ? Buffer.from(out.buffer, out.byteOffset, out.byteLength) : null;
  }

  value(value: WireValue, path: string): this {
    if (value === null) return this.byte(0xc0);
    if (typeof value === 'boolean') return this.byte(value ? 0xc3 : 0xc2);
    if (typeof value === 'number') return this.number(value);
    if (typeof value === 'string') return this.string(value, 0);
    if (Buffer.isBuffer(value)) return this.bin(value);
    if (ArrayBuffer.isView(value)) return this.typedArray(value as TypedArray, path, extHeaderChoices(value.byteLength)[0] as number);
    if (Array.isArray(value)) {
      const list = value as readonly WireValue[];
      this.header(list.length, 0x90, 16, 0xdc, 0xdd);
      list.forEach((item, i) => this.value(item, `${path}[${i}]`));
      return this;
    }
    return this.map(value as { readonly [key: string]: WireValue }, path);
  }

  private map(value: { readonly [key: string]: WireValue }, path: string): this {
    const entries = Object.entries(value);
    this.header(entries.length, 0x80, 16, 0xde, 0xdf);
    for (const [key, item] of entries) {
      const at = path === '' ? key : `${path}.${key}`;
      if (item === undefined) throw new TypeError(`packAligned: ${at} is undefined`);
      if (ArrayBuffer.isView(item) && !Buffer.isBuffer(item)) this.alignedEntry(key, item as TypedArray, at);
      else this.string(key, 0).value(item, at);
    }
    return this;
  }

  /** A key and its typed array, with the narrowest headers that put the elements in place. */
  private alignedEntry(key: string, array: TypedArray, path: string): void {
    const keyBytes = Buffer.byteLength(key);
    const keyForms = [stringHeaderBytes(keyBytes)];
    if (keyBytes < 32) keyForms.push(2, 3);
    else if (keyBytes < 256) keyForms.push(3);
    const extForms = extHeaderChoices(array.byteLength);
    const align = array.BYTES_PER_ELEMENT;
    for (const keyForm of keyForms) {
      for (const extForm of extForms) {
        if ((this.position + keyForm + keyBytes + extForm) % align === 0) {
          this.string(key, keyForm);
          this.typedArray(array, path, extForm);
          return;
        }
      }
    }
    this.string(key, 0);
    this.typedArray(array, path, extForms[0] as number);
  }

  private typedArray(array: TypedArray, path: string, extForm: number): this {
    const code = TYPED_ARRAY_CODES.get(array.constructor.name);
    if (code === undefined) throw new TypeError(`packAligned: ${path || 'value'} is a ${array.constructor.name}, which the wire does not carry`);
    const length = array.byteLength + 1; // the class byte counts as ext data
    if (extForm === EXT8) this.byte(0xc7).byte(length);
    else if (extForm === EXT16) this.byte(0xc8).uint16(length);
    else this.byte(0xc9).uint32(length);
    this.byte(0x74).byte(code);
    if (this.out) {
      const source = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      if (source.length <= PIECE || !this.written) this.out.set(source, this.position);
      else {
        for (let done = 0; done < source.length; done += PIECE) {
          const piece = source.subarray(done, done + PIECE);
          this.out.set(piece, this.position + done);
          this.written(this.out, this.position + done + piece.length);
        }
      }
    }
    this.position += array.byteLength;
    return this;
  }

  private bin(value: Buffer): this {
    const n = value.byteLength;
    if (n < 0x100) this.byte(0xc4).byte(n);
    else if (n < 0x10000) this.byte(0xc5).uint16(n);
    else this.byte(0xc6).uint32(n);
    if (this.out) this.out.set(value, this.position);
    this.position += n;
    return this;
  }

  /** `form`: header bytes to use (0: the narrowest). */
  private string(value: string, form: number): this {
    const n = Buffer.byteLength(value);
    const header = form || stringHeaderBytes(n);
    if (header === 1) this.byte(0xa0 | n);
    else if (header === 2) this.byte(0xd9).byte(n);
    else if (header === 3) this.byte(0xda).uint16(n);
    else this.byte(0xdb).uint32(n);
    this.text?.write(value, this.position, 'utf8');
    this.position += n;
    return this;
  }

  /** Integers in 32 bits as msgpack ints; anything else as float64, as msgpackr does (a uint64 would read back as a BigInt). */
  private number(value: number): this {
    if (Number.isInteger(value) && !Object.is(value, -0) && value >= -0x80000000 && value <= 0xffffffff) {
      if (value >= 0) {
        if (value < 0x80) return this.byte(value);
        if (value < 0x100) return this.byte(0xcc).byte(value);
        if (value < 0x10000) return this.byte(0xcd).uint16(value);
        return this.byte(0xce).uint32(value);
      }
      if (value >= -32) return this.byte(value & 0xff);
      if (value >= -0x80) return this.byte(0xd0).byte(value & 0xff);
      if (value >= -0x8000) return this.byte(0xd1).uint16(value & 0xffff);
      return this.byte(0xd2).uint32(value >>> 0);
    }
    this.byte(0xcb);
    this.view?.setFloat64(this.position, value);
    this.position += 8;
    return this;
  }

  private header(count: number, fix: number, fixLimit: number, code16: number, code32: number): void {
    if (count < fixLimit) this.byte(fix | count);
    else if (count < 0x10000) this.byte(code16).uint16(count);
    else this.byte(code32).uint32(count);
  }

  private byte(b: number): this {
    if (this.out) this.out[this.position] = b;
    this.position += 1;
    return this;
  }

  private uint16(n: number): this {
    this.view?.setUint16(this.position, n);
    this.position += 2;
    return this;
  }

  private uint32(n: number): this {
    this.view?.setUint32(this.position, n);
    this.position += 4;
    return this;
  }
}

function stringHeaderBytes(n: number): number {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** The ext headers that can hold `byteLength` bytes of elements, narrowest first. */
function extHeaderChoices(byteLength: number): number[] {
  const length = byteLength + 1;
  return length < 0x100 ? [EXT8, EXT16, EXT32] : length < 0x10000 ? [EXT16, EXT32] : [EXT32];
}
