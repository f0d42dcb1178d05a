import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Portable } from '../../core/protocol/crc32.js';
import { Random } from '../../core/random.js';

describe('crc32', () => {
  it('matches the standard check value', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Portable(check)).toBe(0xcbf43926);
  });

  it('the portable fallback agrees with zlib on random buffers and views', () => {
    const random = new Random(32);
    for (const size of [0, 1, 7, 64, 1000, 65_537]) {
      const host = new Uint8Array(size + 3).map(() => random.int(256));
      const view = host.subarray(3);
      expect(crc32Portable(view)).toBe(zlibCrc32(view));
    }
  });
});
