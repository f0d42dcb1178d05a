/**
 * Text shared by every view of a run (report, live page, diagrams, the command line's tables):
 * XML escaping, the order of actor names, byte counts.
 */

/** Text safe inside XML or HTML, in element content and in double-quoted attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Sort `client-2` before `client-10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB'] as const;

/**
 * A byte count in binary units: `512 B`, `8.8 KiB`, `1.3 MiB`, `2 GiB` (one decimal at most).
 * `columns` keeps a fixed number of decimals (`2.0 KiB`, `1.25 MiB`), for numbers aligned in a
 * table's column.
 */
export function formatBytes(bytes: number, { columns = false }: { columns?: boolean } = {}): string {
  const a = Math.abs(bytes);
  if (a < 1024) return `${columns ? Math.round(bytes) : bytes} B`;
  const power = a < 1024 ** 2 ? 1 : a < 1024 ** 3 ? 2 : 3;
  const value = bytes / 1024 ** power;
  const text = columns ? value.toFixed(power === 1 ? 1 : 2) : String(Math.round(value * 10) / 10);
  return `${text} ${BYTE_UNITS[power - 1]}`;
}
