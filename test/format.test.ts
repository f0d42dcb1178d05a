import { describe, expect, it } from 'vitest';
import { escapeXml, formatBytes, naturalCompare } from '../core/format.js';

describe('core/format.ts', () => {
  it('escapes the XML specials, ampersands first', () => {
    expect(escapeXml('a<b>&"c" \'d\'')).toBe("a&lt;b&gt;&amp;&quot;c&quot; 'd'");
    expect(escapeXml('&lt;')).toBe('&amp;lt;');
  });

  it('sorts names with numbers in natural order', () => {
    expect(['client-10', 'client-2', 'server', 'client-1'].sort(naturalCompare)).toEqual(['client-1', 'client-2', 'client-10', 'server']);
  });

  it('writes byte counts with one decimal at most, in binary units up to GiB', () => {
    expect([0, 1023, 1024, 9011, 1536 * 1024, 3 * 1024 ** 3].map((n) => formatBytes(n))).toEqual(['0 B', '1023 B', '1 KiB', '8.8 KiB', '1.5 MiB', '3 GiB']);
  });

  it('keeps a fixed number of decimals for table columns', () => {
    expect([12.4, 2048, 9011, 1536 * 1024, 2.5 * 1024 ** 3].map((n) => formatBytes(n, { columns: true }))).toEqual([
      '12 B',
      '2.0 KiB',
      '8.8 KiB',
      '1.50 MiB',
      '2.50 GiB',
    ]);
  });
});
