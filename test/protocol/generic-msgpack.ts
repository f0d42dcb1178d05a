/**
 * A msgpack reader written from the specification alone (no msgpackr), standing in for
 * "any msgpack library": ext values come back opaque as { extType, data }. Throws unless the
 * bytes are exactly one msgpack value.
 */
interface OpaqueExt {
  extType: number;
  data: Uint8Array;
}

export function readGenericMsgpack(bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const take = (n: number): number => {
    if (at + n > bytes.length) throw new Error(`msgpack: ${n} bytes wanted at ${at}, only ${bytes.length - at} left`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => view.getUint8(take(1));
  const u16 = () => view.getUint16(take(2));
  const u32 = () => view.getUint32(take(4));
  const str = (n: number) => new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(take(n), at));
  const bin = (n: number) => bytes.slice(take(n), at);
  const ext = (n: number): OpaqueExt => {
    const extType = view.getInt8(take(1));
    return { extType, data: bin(n) };
  };
  const array = (n: number) => Array.from({ length: n }, () => value());
  const map = (n: number) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = value();
      if (typeof key !== 'string') throw new Error(`msgpack: non-string map key at ${at}`);
      Object.defineProperty(out, key, { value: value(), enumerable: true });
    }
    return out;
  };
  function value(): unknown {
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return bin(u8());
      case 0xc5:
        return bin(u16());
      case 0xc6:
        return bin(u32());
      case 0xc7:
        return ext(u8());
      case 0xc8:
        return ext(u16());
      case 0xc9:
        return ext(u32());
      case 0xca:
        return view.getFloat32(take(4));
      case 0xcb:
        return view.getFloat64(take(8));
      case 0xcc:
        return u8();
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xcf:
        return Number(view.getBigUint64(take(8)));
      case 0xd0:
        return view.getInt8(take(1));
      case 0xd1:
        return view.getInt16(take(2));
      case 0xd2:
        return view.getInt32(take(4));
      case 0xd3:
        return Number(view.getBigInt64(take(8)));
      case 0xd4:
        return ext(1);
      case 0xd5:
        return ext(2);
      case 0xd6:
        return ext(4);
      case 0xd7:
        return ext(8);
      case 0xd8:
        return ext(16);
      case 0xd9:
        return str(u8());
      case 0xda:
        return str(u16());
      case 0xdb:
        return str(u32());
      case 0xdc:
        return array(u16());
      case 0xdd:
        return array(u32());
      case 0xde:
        return map(u16());
      case 0xdf:
        return map(u32());
      default:
        throw new Error(`msgpack: 0x${b.toString(16)} at ${at - 1} is not a msgpack type byte`);
    }
  }
  const result = value();
  if (at !== bytes.length) throw new Error(`msgpack: ${bytes.length - at} bytes left after the value`);
  return result;
}
