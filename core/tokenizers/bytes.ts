/**
 * Raw bytes as they appear in vocabularies: GPT-2's byte-level alphabet (every byte spelled as
 * one printable unicode character, `Ġ` = space, `Ċ` = newline) and SentencePiece byte-fallback
 * tokens (`<0x0A>`), plus a UTF-8 decoder that keeps undecodable bytes.
 */

function buildByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + shifted++);
  }
  return table;
}

/** GPT-2's `bytes_to_unicode`: byte value -> the character that spells it in byte-level vocabularies. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch, b]));

/** The bytes a byte-level token spells, or undefined when it holds a character outside the alphabet. */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  let n = 0;
  for (const ch of token) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    bytes[n++] = b;
  }
  return bytes.subarray(0, n);
}

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

/** The byte of a SentencePiece byte-fallback token such as `<0x0A>`, else undefined. */
export function byteFallbackValue(token: string): number | undefined {
  const match = BYTE_FALLBACK.exec(token);
  return match?.[1] === undefined ? undefined : parseInt(match[1], 16);
}

/**
 * First code point used for a byte that is not part of a valid UTF-8 sequence (PEP 383's
 * surrogateescape): byte b becomes the lone surrogate U+DC00 + b, so a GPT-2 token holding
 * half an emoji and a LLaMA `<0xF0>` token spell the same code point.
 */
export const ESCAPED_BYTE_BASE = 0xdc00;

/** Code points of UTF-8 `bytes`; bytes outside a valid sequence become U+DC00 + byte. */
export function utf8CodePointsEscaped(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] as number;
    let need = 0;
    let cp = 0;
    let min = 0;
    if (b0 < 0x80) {
      out.push(b0);
      i++;
      continue;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      min = 0x10000;
    }
    let ok = need > 0 && i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined || (b & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3f);
    }
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      out.push(cp);
      i += need + 1;
    } else {
      out.push(ESCAPED_BYTE_BASE + b0);
      i++;
    }
  }
  return out;
}
