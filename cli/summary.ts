import type { RoundMetrics } from '../actors/run-recorder.js';

/** Per-round table: one row per round, accuracy of each actor, bytes, virtual time. */
export function roundSummaryTable(metrics: readonly RoundMetrics[]): string {
  const actors = [...new Set(metrics.map((m) => m.actor))].sort((a, b) =>
    a === 'server' ? -1 : b === 'server' ? 1 : a.localeCompare(b, undefined, { numeric: true }),
  );
  const rounds = [...new Set(metrics.map((m) => m.round))].sort((a, b) => a - b);
  const header = ['round', ...actors.map((a) => `acc ${a}`), 'bytes up', 'bytes down', 'virtual s'];
  const rows = rounds.map((r) => {
    const ms = metrics.filter((m) => m.round === r);
    const acc = actors.map((a) => {
      const v = ms.find((m) => m.actor === a)?.accuracy;
      return v === null || v === undefined ? '-' : v.toFixed(3);
    });
    // Bytes as the clients count them (up: toward the server); a process running the server
    // alone counts them on its side (what it received, what it sent).
    const clients = ms.filter((m) => m.role === 'client');
    const server = ms.find((m) => m.role === 'server');
    const up = clients.length > 0 ? clients.reduce((s, m) => s + m.bytesUp, 0) : (server?.bytesDown ?? 0);
    const down = clients.length > 0 ? clients.reduce((s, m) => s + m.bytesDown, 0) : (server?.bytesUp ?? 0);
    const vs = ms.find((m) => m.role === 'server')?.virtualSeconds ?? Math.max(...ms.map((m) => m.virtualSeconds));
    return [r === 0 ? '0 (zero-shot)' : String(r), ...acc, formatBytes(up), formatBytes(down), vs.toFixed(1)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
