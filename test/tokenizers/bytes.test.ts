import { describe, expect, it } from 'vitest';
import { BYTE_TO_UNICODE, byteFallbackValue, byteLevelToBytes, ESCAPED_BYTE_BASE, utf8CodePointsEscaped } from '../../core/tokenizers/bytes.js';

describe("GPT-2's byte-level alphabet", () => {
  it('spells space as Ġ and newline as Ċ, printable ASCII as itself, and is a bijection', () => {
    expect(BYTE_TO_UNICODE[0x20]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).toBe('Ċ');
    expect(BYTE_TO_UNICODE[0x41]).toBe('A');
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
  });

  it('maps tokens back to their bytes', () => {
    expect([...(byteLevelToBytes('ĠcafÃ©') ?? [])]).toEqual([0x20, 0x63, 0x61, 0x66, 0xc3, 0xa9]);
    expect(byteLevelToBytes('<|endoftext|>')).toEqual(new TextEncoder().encode('<|endoftext|>'));
    expect(byteLevelToBytes('▁')).toBeUndefined();
  });
});

describe('byte-fallback tokens', () => {
  it('reads <0xNN> and nothing else', () => {
    expect(byteFallbackValue('<0x0A>')).toBe(10);
    expect(byteFallbackValue('<0xff>')).toBe(255);
    expect(byteFallbackValue('<0x0A')).toBeUndefined();
    expect(byteFallbackValue('0x0A')).toBeUndefined();
  });
});

describe('UTF-8 with escaped bytes', () => {
  it('decodes valid sequences and escapes bytes outside one', () => {
    const smile = [0xf0, 0x9f, 0x98, 0x80];
    expect(utf8CodePointsEscaped(new Uint8Array(smile))).toEqual([0x1f600]);
    expect(utf8CodePointsEscaped(new Uint8Array(smile.slice(0, 3)))).toEqual([ESCAPED_BYTE_BASE + 0xf0, ESCAPED_BYTE_BASE + 0x9f, ESCAPED_BYTE_BASE + 0x98]);
    expect(utf8CodePointsEscaped(new Uint8Array([0x61, 0xc3]))).toEqual([0x61, ESCAPED_BYTE_BASE + 0xc3]);
    // Overlong encoding of "/" and an encoded surrogate are not valid UTF-8.
    expect(utf8CodePointsEscaped(new Uint8Array([0xc0, 0xaf]))).toEqual([ESCAPED_BYTE_BASE + 0xc0, ESCAPED_BYTE_BASE + 0xaf]);
    expect(utf8CodePointsEscaped(new Uint8Array([0xed, 0xa0, 0x80]))).toHaveLength(3);
  });
});
