/**
 * Small helpers for hand-written SVG and HTML: compact numbers, axis ticks, time formatting,
 * and the colours shared by every chart of a report and the live page (escaping, natural order
 * and byte counts are core/format.ts's).
 */
import { hashString } from '../../core/random.js';

/** A coordinate with at most one decimal. */
export function n1(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** "Nice" tick values covering [lo, hi] with about `count` steps. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

/** Time ticks in ms on human steps (1 s, 5 min, 1 h, ...). */
export function timeTicks(lo: number, hi: number, count = 8): number[] {
  const steps = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
    10_800_000, 21_600_000, 43_200_000, 86_400_000,
  ];
  const raw = (hi - lo) / count;
  const step = steps.find((s) => s >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

export function formatDuration(ms: number): string {
  const r = (x: number) => String(Math.round(x * 100) / 100);
  const a = Math.abs(ms);
  if (a < 1000) return `${r(ms)} ms`;
  if (a < 120_000) return `${r(ms / 1000)} s`;
  if (a < 7_200_000) return `${r(ms / 60_000)} min`;
  return `${r(ms / 3_600_000)} h`;
}

/** Clock-style time for axis ticks: `m:ss` under an hour, `h:mm:ss` beyond; plain durations for spans under 2 min. */
export function formatClock(ms: number, spanMs: number): string {
  if (spanMs < 120_000) return formatDuration(ms);
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function clockUnit(spanMs: number): string {
  return spanMs < 120_000 ? '' : spanMs >= 3_600_000 ? 'h:mm:ss' : 'm:ss';
}

const STATE_COLOURS: Record<string, string> = {
  evaluateZeroShot: '#b39ddb',
  roundEnd: '#9575cd',
  waitForRound: '#eceff1',
  awaitAnnouncement: '#eceff1',
  trainPrivate: '#42a5f5',
  computePublicLogits: '#26a69a',
  uploadLogits: '#ffca28',
  awaitLLMLogits: '#cfd8dc',
  llmLogitsMissing: '#ff8a65',
  alignLLMTokens: '#a1887f',
  distillFromLLM: '#66bb6a',
  'fedAvg.uploadAdapter': '#f06292',
  'fedAvg.awaitAverage': '#f8bbd0',
  'fedAvg.applyAverage': '#ec407a',
  'fedAvg.applied': '#ad1457',
  'fedAvg.skipped': '#ffab91',
  roundComplete: '#90a4ae',
  announceRound: '#ffe082',
  awaitSLMLogits: '#b0bec5',
  alignSLMTokens: '#8d6e63',
  distillFromSLMs: '#43a047',
  computeLLMLogits: '#00897b',
  broadcastLLMLogits: '#ffb300',
  'fedAvg.awaitAdapters': '#f8bbd0',
  'fedAvg.averageAdapters': '#d81b60',
  'fedAvg.averaged': '#ad1457',
  roundSkipped: '#ff7043',
  finishing: '#78909c',
  aborting: '#f4511e',
  done: '#455a64',
  failed: '#e53935',
};

/** One colour per state name; known states have fixed colours, others a stable hashed hue. */
export function stateColour(state: string): string {
  return STATE_COLOURS[state] ?? `hsl(${hashString(state) % 360} 55% 62%)`;
}

const MESSAGE_COLOURS: Record<string, string> = {
  'round-start': '#546e7a',
  'slm-logits': '#1e88e5',
  'llm-logits': '#2e7d32',
  adapter: '#8e24aa',
  'adapter-average': '#d81b60',
  finish: '#212121',
};

export function messageColour(type: string): string {
  return MESSAGE_COLOURS[type] ?? `hsl(${hashString(type) % 360} 60% 40%)`;
}

const SERIES = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#aec7e8', '#ffbb78', '#98df8a'];

export function seriesColour(i: number): string {
  return SERIES[i % SERIES.length]!;
}
