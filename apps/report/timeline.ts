/**
 * The swimlane timeline of a run: one lane per actor, its states as coloured bars, messages
 * as lines from the sender's lane at send time to the receiver's lane at delivery time, and
 * faults as markers. Beyond `maxLanes` actors the clients are aggregated: a stacked count of
 * clients per state over time, deliveries per time bin, and fault counts per time bin, with a
 * few sample lanes kept in detail.
 */
import { faultColour, faultKindsWithDefaults, glyph, glyphKind, legend, SPAN_PATTERNS } from './fault-glyphs.js';
import type { RecordedEvent } from './read-run.js';
import { drawSpans } from './spans.js';
import { escapeXml } from '../../core/format.js';
import { clockUnit, formatClock, formatDuration, messageColour, n1, stateColour, timeTicks } from './svg.js';
import type { TimeScale } from './time-scale.js';
import { timelineData, type Deliver, type StateMark, type TimelineData, type TimelineDataOptions } from './timeline-data.js';

export interface TimelineOptions extends TimelineDataOptions {
  /** Time bins of the aggregated charts (default 400). */
  bins?: number;
  /** What the time axis measures (default `time`): `virtual time`, `wall-clock time`. */
  timeLabel?: string;
}

export interface Timeline {
  /** Inline SVG (no namespace declaration needed inside HTML). */
  svg: string;
  legend: string;
  aggregated: boolean;
  /** Actors drawn as lanes, top to bottom. */
  lanes: string[];
  /** Every actor seen in the events, servers first. */
  actors: string[];
  faultCounts: Record<string, number>;
  states: string[];
  messageTypes: string[];
  t0: number;
  t1: number;
}

const LABEL_W = 150;
const PLOT_W = 1030;
const W = LABEL_W + PLOT_W + 20;
const LANE_H = 16;
const LANE_PITCH = 22;
/** Beyond this many bars or lines, tooltips are left out to keep the file small. */
const TITLE_BUDGET = 20_000;
/** The lanes' top: room for the round labels above the axis. */
const TOP = 34;

export function buildTimeline(events: readonly RecordedEvent[], roles: ReadonlyMap<string, string>, options: TimelineOptions = {}): Timeline {
  const data = timelineData(events, roles, options);
  const { lanes, stateNames, messageTypes, faultKinds, scale } = data;
  const laneIndex = new Map(lanes.map((a, i) => [a, i]));
  const stateClass = new Map(stateNames.map((s, i) => [s, `s${i}`]));
  const messageClass = new Map(messageTypes.map((m, i) => [m, `m${i}`]));
  const x = (t: number) => LABEL_W + (scale.u(t) / scale.U) * PLOT_W;
  const laneY = (i: number) => TOP + i * LANE_PITCH;
  const at: LanePlot = { x, laneIndex, laneY, laneMid: (a: string) => laneY(laneIndex.get(a)!) + LANE_H / 2 };
  const lanesBottom = TOP + lanes.length * LANE_PITCH;

  const out: string[] = [];
  const style = [
    ...stateNames.map((s) => `.tl .${stateClass.get(s)}{fill:${stateColour(s)}}`),
    ...messageTypes.map((m) => `.tl .${messageClass.get(m)}{stroke:${messageColour(m)}}`),
    ...faultKindsWithDefaults(faultKinds).map((k) => `.tl .f-${k}{fill:${faultColour(k)}}`),
  ].join('');
  out.push(`<style>${style}</style>`);
  out.push(
    `<defs>${SPAN_PATTERNS}${faultKindsWithDefaults(faultKinds)
      .map((k) => `<symbol id="f-${k}" viewBox="-6 -6 12 12">${glyph(k)}</symbol>`)
      .join('')}</defs>`,
  );

  // Detailed lanes.
  out.push(`<g class="lanes">`);
  out.push(drawAxis(data, x, TOP - 6, lanesBottom, options.timeLabel));
  out.push(...drawLanes(data, roles, at, stateClass));
  out.push(drawSpans(data.spans, (a) => (laneIndex.has(a) ? { y: laneY(laneIndex.get(a)!), h: LANE_H } : undefined), x, data.t1));
  out.push(gapBands(scale, x, TOP - 6, lanesBottom));
  out.push(...drawMessages(data, at, messageClass));
  out.push(...drawFaults(data, at));
  out.push(`</g>`);

  let height = lanesBottom + 40;
  if (data.aggregated) {
    const { clients, states, delivers, faults, actors } = data;
    const agg = aggregate(clients, states, delivers, faults, stateNames, stateClass, messageTypes, messageClass, faultKinds, scale, options.bins ?? 400);
    out.push(`<g class="aggregate" transform="translate(0 ${height})">`);
    out.push(`<text x="${LABEL_W}" y="14" class="heading">All ${clients.length} clients (lanes above: ${lanes.length} of ${actors.length} actors)</text>`);
    out.push(drawAxis(data, x, 28, 28 + agg.height, options.timeLabel));
    out.push(agg.svg);
    out.push(gapBands(scale, x, 28, 28 + agg.height));
    out.push(`</g>`);
    height += agg.height + 70;
  }

  const svg = `<svg class="tl" viewBox="0 0 ${W} ${height}" role="img" aria-label="timeline">${out.join('')}</svg>`;
  const { spans, faultCounts } = data;
  return {
    svg,
    legend: legend(stateNames, messageTypes, faultKinds, faultCounts, {
      offline: spans.some((s) => s.kind === 'offline'),
      partition: spans.some((s) => s.kind === 'cut'),
    }),
    aggregated: data.aggregated,
    lanes,
    actors: data.actors,
    faultCounts,
    states: stateNames,
    messageTypes,
    t0: data.t0,
    t1: data.t1,
  };
}

/** Where a lane and a time are drawn. */
interface LanePlot {
  x: (t: number) => number;
  laneIndex: ReadonlyMap<string, number>;
  laneY: (i: number) => number;
  laneMid: (actor: string) => number;
}

/** The time axis from y0 to y1: ticks on the active stretches, labels of the squeezed ones, round boundaries. */
function drawAxis({ t0, t1, scale, roundStarts }: TimelineData, x: (t: number) => number, y0: number, y1: number, timeLabel: string | undefined): string {
  const parts: string[] = [];
  const span = t1 - t0;
  const unit = clockUnit(span);
  if (unit) parts.push(`<text x="${LABEL_W - 26}" y="${y1 + 13}" text-anchor="end" class="tick">${escapeXml(timeLabel ?? 'time')} (${unit})</text>`);
  // Gap labels first (staggered when close), then ticks that keep clear of them.
  const taken: number[] = [];
  let lastGap = -Infinity;
  let row = 0;
  for (const g of scale.gaps) {
    const gx = (x(g.t0) + x(g.t1)) / 2;
    row = gx - lastGap < 70 ? (row + 1) % 2 : 0;
    lastGap = gx;
    taken.push(gx);
    parts.push(`<text x="${n1(gx)}" y="${y1 + 13 + 11 * row}" text-anchor="middle" class="gaplabel">≈${escapeXml(formatDuration(g.t1 - g.t0))}</text>`);
  }
  let lastX = -Infinity;
  for (const seg of scale.active()) {
    const px = ((seg.u1 - seg.u0) / scale.U) * PLOT_W;
    for (const v of timeTicks(seg.t0, seg.t1, Math.max(1, Math.round(px / 110)))) {
      const tx = x(v);
      if (tx - lastX < 60 || taken.some((g) => Math.abs(g - tx) < 45)) continue;
      lastX = tx;
      parts.push(`<line x1="${n1(tx)}" x2="${n1(tx)}" y1="${y0}" y2="${y1}" class="grid"/>`);
      parts.push(`<text x="${n1(tx)}" y="${y1 + 13}" text-anchor="middle" class="tick">${escapeXml(formatClock(v, span))}</text>`);
    }
  }
  for (const [r, t] of roundStarts) {
    parts.push(`<line x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${y0 - 12}" y2="${y1}" class="round"/>`);
    parts.push(`<text x="${n1(x(t) + 3)}" y="${y0 - 3}" class="roundlabel">r${r}</text>`);
  }
  return parts.join('');
}

/** Bands over the squeezed stretches, drawn above the bars. */
function gapBands(scale: TimeScale, x: (t: number) => number, y0: number, y1: number): string {
  return scale.gaps
    .map((g) => {
      const ga = x(g.t0);
      const gb = x(g.t1);
      return `<rect class="gap" x="${n1(ga)}" y="${y0}" width="${n1(gb - ga)}" height="${y1 - y0}"><title>${escapeXml(`nothing recorded for ${formatDuration(g.t1 - g.t0)} (${formatDuration(g.t0)} to ${formatDuration(g.t1)}): drawn narrow`)}</title></rect>`;
    })
    .join('');
}

/** Each lane's name, background and state bars. */
function drawLanes(
  { lanes, states, isServer, t1 }: TimelineData,
  roles: ReadonlyMap<string, string>,
  { x, laneY }: LanePlot,
  stateClass: ReadonlyMap<string, string>,
): string[] {
  const out: string[] = [];
  const barCount = lanes.reduce((s, a) => s + (states.get(a)?.length ?? 0), 0);
  const barTitles = barCount <= TITLE_BUDGET;
  lanes.forEach((a, i) => {
    const y = laneY(i);
    const role = roles.get(a) ?? (isServer(a) ? 'server' : 'client');
    out.push(
      `<text x="${LABEL_W - 8}" y="${y + LANE_H - 4}" text-anchor="end" class="lane${role === 'server' ? ' server' : ''}">${escapeXml(a)}</text>`,
      `<rect x="${LABEL_W}" y="${y}" width="${PLOT_W}" height="${LANE_H}" class="lanebg"/>`,
    );
    const list = states.get(a) ?? [];
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const end = list[k + 1]?.t ?? t1;
      const xa = x(s.t);
      const w = x(end) - xa;
      if (w < 0.25 && k + 1 < list.length) continue; // invisible: a pass-through state
      const title = barTitles
        ? `<title>${escapeXml(`${a}: ${s.state}, round ${s.round}, ${formatDuration(s.t)} to ${formatDuration(end)} (${formatDuration(end - s.t)})`)}</title>`
        : '';
      out.push(`<rect class="${stateClass.get(s.state)}" x="${n1(xa)}" y="${y}" width="${n1(Math.max(w, 0.6))}" height="${LANE_H}">${title}</rect>`);
    }
  });
  return out;
}

/** Messages between drawn lanes as lines from send to delivery; sends delivered nowhere as dots. */
function drawMessages({ sends, delivers }: TimelineData, { x, laneIndex, laneMid }: LanePlot, messageClass: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const delivered = new Set<string>();
  const drawn = delivers.filter((d) => {
    delivered.add(d.id);
    const s = sends.get(d.id);
    return s !== undefined && laneIndex.has(s.actor) && laneIndex.has(d.actor);
  });
  const lineTitles = drawn.length <= TITLE_BUDGET;
  out.push(`<g class="msgs">`);
  for (const d of drawn) {
    const s = sends.get(d.id)!;
    const title = lineTitles
      ? `<title>${escapeXml(`${d.type} ${d.id}: ${s.actor} → ${d.actor}, ${d.bytes} bytes, ${formatDuration(s.t)} to ${formatDuration(d.t)}`)}</title>`
      : '';
    out.push(
      `<line class="${messageClass.get(d.type) ?? messageClass.get(s.type)}" x1="${n1(x(s.t))}" y1="${n1(laneMid(s.actor))}" x2="${n1(x(d.t))}" y2="${n1(laneMid(d.actor))}">${title}</line>`,
    );
  }
  // Sent but delivered nowhere (only meaningful when the run records deliveries at all).
  if (delivers.length > 0) {
    for (const [id, s] of sends) {
      if (delivered.has(id) || !laneIndex.has(s.actor)) continue;
      out.push(
        `<circle class="undelivered" cx="${n1(x(s.t))}" cy="${n1(laneMid(s.actor) - 5)}" r="2.5"><title>${escapeXml(`${s.type} ${id} sent by ${s.actor} at ${formatDuration(s.t)}: no delivery recorded`)}</title></circle>`,
      );
    }
  }
  out.push(`</g>`);
  return out;
}

/** Faults on drawn lanes; a fault naming a message id gets a dashed line from its sender. */
function drawFaults({ drawnFaults, sends }: TimelineData, { x, laneIndex, laneMid }: LanePlot): string[] {
  const out: string[] = [`<g class="faults">`];
  for (const f of drawnFaults) {
    if (!laneIndex.has(f.actor)) continue;
    const fx = x(Number(f.t));
    const fy = laneMid(f.actor);
    const s = typeof f.id === 'string' ? sends.get(f.id) : typeof f.messageId === 'string' ? sends.get(f.messageId) : undefined;
    if (s && s.actor !== f.actor && laneIndex.has(s.actor))
      out.push(`<line class="faultline" x1="${n1(x(s.t))}" y1="${n1(laneMid(s.actor))}" x2="${n1(fx)}" y2="${n1(fy)}"/>`);
    out.push(`<use href="#f-${glyphKind(f.kind)}" x="${n1(fx - 6)}" y="${n1(fy - 6)}" width="12" height="12"><title>${escapeXml(faultTitle(f))}</title></use>`);
  }
  out.push(`</g>`);
  return out;
}

/** Drop points that repeat the previous one (flat runs of a step outline). */
function dedupe(points: string[]): string[] {
  return points.filter((p, i) => i === 0 || p !== points[i - 1]);
}

/** Stacked clients per state, deliveries per bin by type, faults per bin by kind. */
function aggregate(
  clients: readonly string[],
  states: ReadonlyMap<string, StateMark[]>,
  delivers: readonly Deliver[],
  faults: readonly RecordedEvent[],
  stateNames: readonly string[],
  stateClass: ReadonlyMap<string, string>,
  messageTypes: readonly string[],
  messageClass: ReadonlyMap<string, string>,
  faultKinds: readonly string[],
  scale: TimeScale,
  binCount: number,
): { svg: string; height: number } {
  const B = Math.max(10, Math.min(binCount, PLOT_W));
  // Bins are uniform on the drawn axis (display units), so squeezed stretches get few bins.
  const bw = scale.U / B;
  const t1 = scale.t1;
  const binOf = (t: number) => Math.min(B - 1, Math.max(0, Math.floor(scale.u(t) / bw)));
  const stateIndex = new Map(stateNames.map((s, i) => [s, i]));
  const occ = stateNames.map(() => new Float64Array(B));
  // Time-weighted occupancy: each interval adds its overlap with a bin, in bins.
  for (const a of clients) {
    const list = states.get(a);
    if (!list) continue;
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const start = scale.u(s.t);
      const end = scale.u(list[k + 1]?.t ?? t1);
      if (end <= start) continue;
      const row = occ[stateIndex.get(s.state)!]!;
      const b0 = Math.min(B - 1, Math.floor(start / bw));
      const b1 = Math.min(B - 1, Math.floor(end / bw));
      if (b0 === b1) {
        row[b0]! += (end - start) / bw;
        continue;
      }
      row[b0]! += ((b0 + 1) * bw - start) / bw;
      for (let b = b0 + 1; b < b1; b++) row[b]! += 1;
      row[b1]! += Math.min(1, (end - b1 * bw) / bw);
    }
  }
  const STACK_H = 220;
  const parts: string[] = [];
  const y0 = 28;
  const n = Math.max(1, clients.length);
  const yOf = (count: number) => y0 + STACK_H - (count / n) * STACK_H;
  const bx = (b: number) => n1(LABEL_W + ((b * bw) / scale.U) * PLOT_W);
  const bmid = (b: number) => n1(LABEL_W + (((b + 0.5) * bw) / scale.U) * PLOT_W);
  const lower = new Float64Array(B);
  parts.push(`<text x="${LABEL_W - 8}" y="${y0 + 12}" text-anchor="end" class="tick">${n} clients</text>`);
  parts.push(`<text x="${LABEL_W - 8}" y="${y0 + STACK_H}" text-anchor="end" class="tick">0</text>`);
  parts.push(`<text x="${LABEL_W - 8}" y="${y0 + STACK_H / 2}" text-anchor="end" class="axis">clients per state</text>`);
  stateNames.forEach((state, si) => {
    const row = occ[si]!;
    let peak = 0;
    for (let b = 0; b < B; b++) peak = Math.max(peak, row[b]!);
    if (peak === 0) return;
    // Step outline: top edge left to right, then bottom edge back.
    const top: string[] = [];
    const bottom: string[] = [];
    for (let b = 0; b < B; b++) top.push(`${bx(b)} ${n1(yOf(lower[b]! + row[b]!))}`, `${bx(b + 1)} ${n1(yOf(lower[b]! + row[b]!))}`);
    for (let b = B - 1; b >= 0; b--) bottom.push(`${bx(b + 1)} ${n1(yOf(lower[b]!))}`, `${bx(b)} ${n1(yOf(lower[b]!))}`);
    for (let b = 0; b < B; b++) lower[b]! += row[b]!;
    parts.push(
      `<path class="${stateClass.get(state)}" d="M${dedupe(top).join('L')}L${dedupe(bottom).join('L')}Z"><title>${escapeXml(`${state}: up to ${Math.round(peak * 10) / 10} clients at once`)}</title></path>`,
    );
  });
  // Deliveries per bin by message type.
  const MSG_Y = y0 + STACK_H + 24;
  const MSG_H = 80;
  const counts = messageTypes.map(() => new Float64Array(B));
  const typeIndex = new Map(messageTypes.map((m, i) => [m, i]));
  for (const d of delivers) {
    const i = typeIndex.get(d.type);
    if (i === undefined) continue;
    counts[i]![binOf(d.t)]! += 1;
  }
  let maxCount = 1;
  for (const c of counts) for (let b = 0; b < B; b++) maxCount = Math.max(maxCount, c[b]!);
  parts.push(`<rect x="${LABEL_W}" y="${MSG_Y}" width="${PLOT_W}" height="${MSG_H}" class="lanebg"/>`);
  parts.push(`<text x="${LABEL_W - 8}" y="${MSG_Y + MSG_H / 2 + 4}" text-anchor="end" class="axis">deliveries / bin</text>`);
  parts.push(`<text x="${LABEL_W - 8}" y="${MSG_Y + 10}" text-anchor="end" class="tick">${maxCount}</text>`);
  messageTypes.forEach((m, i) => {
    const c = counts[i]!;
    const pts: string[] = [];
    for (let b = 0; b < B; b++) pts.push(`${bmid(b)} ${n1(MSG_Y + MSG_H - (c[b]! / maxCount) * MSG_H)}`);
    const total = c.reduce((s, v) => s + v, 0);
    parts.push(`<path class="${messageClass.get(m)} rate" d="M${pts.join('L')}"><title>${escapeXml(`${m}: ${total} deliveries`)}</title></path>`);
  });
  // Faults per bin by kind: one row per kind, circle area by count.
  let y = MSG_Y + MSG_H + 18;
  for (const kind of faultKinds) {
    const per = new Map<number, number>();
    for (const f of faults) {
      if (f.kind !== kind) continue;
      const b = binOf(Number(f.t));
      per.set(b, (per.get(b) ?? 0) + 1);
    }
    const max = Math.max(1, ...per.values());
    parts.push(`<text x="${LABEL_W - 8}" y="${y + 4}" text-anchor="end" class="tick">${escapeXml(kind)}</text>`);
    parts.push(`<line x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${y}" y2="${y}" class="grid"/>`);
    for (const [b, c] of per) {
      const r = 1.5 + 5 * Math.sqrt(c / max);
      parts.push(
        `<circle class="fb f-${glyphKind(kind)}" cx="${bmid(b)}" cy="${y}" r="${n1(r)}"><title>${escapeXml(`${kind}: ${c} between ${formatDuration(scale.t(b * bw))} and ${formatDuration(scale.t((b + 1) * bw))}`)}</title></circle>`,
      );
    }
    y += 18;
  }
  return { svg: parts.join(''), height: y - y0 + 10 };
}

function faultTitle(f: RecordedEvent): string {
  const { t, actor, round, kind, ...rest } = f;
  let detail = JSON.stringify(rest);
  if (detail.length > 200) detail = `${detail.slice(0, 197)}...`;
  return `${kind} at ${actor}, round ${round}, ${formatDuration(Number(t))}${detail === '{}' ? '' : `: ${detail}`}`;
}
