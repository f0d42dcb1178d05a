/**
 * The markers of the timeline: one glyph per kind of fault or protocol decision, so that a
 * partition, a dropout, a rejoin and a reordering each look like themselves; and the timeline's
 * legend.
 */
import { escapeXml } from '../../core/format.js';
import { messageColour, stateColour } from './svg.js';

const FAULT_STYLE: Record<string, { colour: string; shape: string; label?: string }> = {
  ignored: { colour: '#757575', shape: 'circle' },
  reject: { colour: '#ef6c00', shape: 'diamond' },
  deadline: { colour: '#c62828', shape: 'triangle' },
  quorum: { colour: '#6a1b9a', shape: 'square' },
  drop: { colour: '#d50000', shape: 'x' },
  duplicate: { colour: '#1565c0', shape: 'double' },
  delay: { colour: '#ff8f00', shape: 'clock' },
  reorder: { colour: '#00838f', shape: 'swap' },
  corrupt: { colour: '#6d4c41', shape: 'diamondx' },
  partition: { colour: '#ad1457', shape: 'cut', label: 'partition (cut off from the others)' },
  crash: { colour: '#000000', shape: 'star' },
  restart: { colour: '#2e7d32', shape: 'ring' },
  dropout: { colour: '#37474f', shape: 'down', label: 'dropout (goes offline)' },
  rejoin: { colour: '#2e7d32', shape: 'up', label: 'rejoin (back online)' },
  resume: { colour: '#0277bd', shape: 'flag', label: 'resume (from a checkpoint)' },
  other: { colour: '#9e9e9e', shape: 'diamond' },
};

/** The fault glyph family a kind is drawn with (`other` for kinds without a style). */
export function glyphKind(kind: string): string {
  return kind in FAULT_STYLE ? kind : 'other';
}

export function faultKindsWithDefaults(kinds: readonly string[]): string[] {
  return [...new Set(kinds.map(glyphKind))];
}

/** Glyph in a -6..6 box. */
export function glyph(kind: string): string {
  const { colour, shape } = FAULT_STYLE[glyphKind(kind)]!;
  switch (shape) {
    case 'circle':
      return `<circle r="4" fill="#fff" stroke="${colour}" stroke-width="2"/>`;
    case 'diamond':
      return `<path d="M0 -5 L5 0 L0 5 L-5 0 Z" fill="${colour}" stroke="#fff" stroke-width="1"/>`;
    case 'triangle':
      return `<path d="M0 -5.5 L5.5 4.5 L-5.5 4.5 Z" fill="${colour}" stroke="#fff" stroke-width="1"/>`;
    case 'square':
      return `<rect x="-4.5" y="-4.5" width="9" height="9" fill="${colour}" stroke="#fff" stroke-width="1"/>`;
    case 'x':
      return `<path d="M-4.5 -4.5 L4.5 4.5 M4.5 -4.5 L-4.5 4.5" stroke="${colour}" stroke-width="2.6"/>`;
    case 'double':
      return `<circle cx="-1.8" r="3.4" fill="none" stroke="${colour}" stroke-width="1.6"/><circle cx="1.8" r="3.4" fill="none" stroke="${colour}" stroke-width="1.6"/>`;
    case 'clock':
      return `<circle r="4.6" fill="#fff" stroke="${colour}" stroke-width="1.6"/><path d="M0 -3 L0 0 L2.4 1.4" stroke="${colour}" stroke-width="1.4" fill="none"/>`;
    case 'swap':
      return `<rect x="-5.5" y="-5.5" width="11" height="11" rx="2" fill="#fff" stroke="${colour}" stroke-width="1.2"/><path d="M-3.5 -1.8 L3.5 -1.8 M1.5 -3.6 L3.5 -1.8 L1.5 0 M3.5 1.8 L-3.5 1.8 M-1.5 0 L-3.5 1.8 L-1.5 3.6" stroke="${colour}" stroke-width="1.3" fill="none"/>`;
    case 'diamondx':
      return `<path d="M0 -5 L5 0 L0 5 L-5 0 Z" fill="${colour}"/><path d="M-2 -2 L2 2 M2 -2 L-2 2" stroke="#fff" stroke-width="1.2"/>`;
    case 'cut':
      return `<rect x="-5.5" y="-5.5" width="11" height="11" fill="#fff" stroke="${colour}" stroke-width="1"/><path d="M-2.2 -4 L-2.2 4 M2.2 -4 L2.2 4" stroke="${colour}" stroke-width="2"/>`;
    case 'star':
      return `<path d="M0 -5.5 L1.6 -1.6 L5.5 -1.6 L2.4 1 L3.4 5 L0 2.6 L-3.4 5 L-2.4 1 L-5.5 -1.6 L-1.6 -1.6 Z" fill="${colour}"/>`;
    case 'ring':
      return `<circle r="4" fill="#fff" stroke="${colour}" stroke-width="2.4"/><circle r="1.3" fill="${colour}"/>`;
    case 'down':
      return `<path d="M-5 -4 L5 -4 L0 5 Z" fill="${colour}" stroke="#fff" stroke-width="1"/>`;
    case 'up':
      return `<path d="M-5 4 L5 4 L0 -5 Z" fill="${colour}" stroke="#fff" stroke-width="1"/>`;
    case 'flag':
      return `<path d="M-3.5 5.5 L-3.5 -5.5 L4.5 -3 L-3.5 -0.5" fill="${colour}" stroke="${colour}" stroke-width="1.2"/>`;
    default:
      return `<circle r="4" fill="${colour}"/>`;
  }
}

export function faultColour(kind: string): string {
  return FAULT_STYLE[glyphKind(kind)]!.colour;
}

/** The stripes of a span in which an actor was offline, and of a partition. */
export const SPAN_PATTERNS =
  '<pattern id="offline" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#cfd8dc"/><rect width="2.5" height="6" fill="#546e7a"/></pattern>' +
  '<pattern id="cut" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(-45)"><rect width="2" height="8" fill="#ad1457" fill-opacity=".45"/></pattern>';

export function legend(
  states: readonly string[],
  messageTypes: readonly string[],
  faultKinds: readonly string[],
  counts: Record<string, number>,
  spans: { offline: boolean; partition: boolean },
): string {
  const items: string[] = [];
  for (const s of states) items.push(`<li><span class="sw box" style="background:${stateColour(s)}"></span>${escapeXml(s)}</li>`);
  const swatch = (stripes: string) => `<span class="sw box" style="background:repeating-linear-gradient(45deg,${stripes})"></span>`;
  if (spans.offline) items.push(`<li>${swatch('#546e7a 0 2px,#cfd8dc 2px 4px')}offline (dropped out or crashed)</li>`);
  if (spans.partition) items.push(`<li>${swatch('#ad145773 0 2px,#fff 2px 5px')}partitioned (cut off)</li>`);
  const msgs = messageTypes.map((m) => `<li><span class="sw" style="border-color:${messageColour(m)}"></span>${escapeXml(m)}</li>`);
  const faults = faultKinds.map(
    (k) => `<li><svg class="glyph" viewBox="-6 -6 12 12" width="12" height="12">${glyph(k)}</svg>${escapeXml(FAULT_STYLE[k]?.label ?? k)} (${counts[k]})</li>`,
  );
  return (
    `<div class="legends"><div><h4>States</h4><ul class="legend">${items.join('')}</ul></div>` +
    `<div><h4>Messages</h4><ul class="legend">${msgs.join('') || '<li>none</li>'}</ul></div>` +
    `<div><h4>Faults and decisions</h4><ul class="legend">${faults.join('') || '<li>none</li>'}</ul></div></div>`
  );
}
