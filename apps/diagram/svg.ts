/**
 * A machine graph as a self-contained SVG, drawn on the layout of layout.ts: compound
 * states as boxes around their children, failure transitions and states in red, deadlines dashed.
 */
import { escapeXml } from '../../core/format.js';
import type { MachineGraph } from './graph.js';
import { edgeColour, GREY, layoutDiagram, MARGIN, RED, SMALL_SIZE, TITLE_SIZE, type Box, type DiagramLayout } from './layout.js';

const FONT = "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif";

export function toSvg(graph: MachineGraph): string {
  const layout = layoutDiagram(graph);
  const paths = layout.paths.map(({ edge: e, d }) => {
    const dash = e.kind === 'after' ? ' stroke-dasharray="6 3"' : '';
    const marker = e.failure ? 'url(#arrow-fail)' : 'url(#arrow)';
    const title = `${e.from} -> ${e.to}: ${e.event || 'always'}${e.guard ? ` [${e.guard}]` : ''}`;
    return `<path d="${d}" fill="none" stroke="${edgeColour(e)}" stroke-width="${e.failure ? 1.6 : 1.3}"${dash} marker-end="${marker}"><title>${escapeXml(title)}</title></path>`;
  });
  const labels = layout.labels.map(
    (l) =>
      `<rect x="${r1(l.x0)}" y="${r1(l.y - 10)}" width="${l.w}" height="13" rx="2" fill="#ffffff" fill-opacity="0.88"/>` +
      `<text x="${r1(l.x)}" y="${r1(l.y)}" font-size="${SMALL_SIZE}" fill="${l.color}" text-anchor="${l.anchor}">${escapeXml(l.text)}</text>`,
  );
  // Compound backgrounds first (outer to inner), then edges, then atomic boxes, then labels.
  const compoundSvg: string[] = [];
  const atomicSvg: string[] = [];
  drawBox(layout.root, layout, compoundSvg, atomicSvg);
  const { root } = layout;
  const W = Math.ceil(root.x + root.w + MARGIN + 8);
  const legendY = Math.ceil(root.y + root.h + 24);
  const H = legendY + 20;
  const width = Math.max(W, MARGIN + 520);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(`${graph.machine} machine`)}</title>`,
    '<defs>',
    `<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${GREY}"/></marker>`,
    `<marker id="arrow-fail" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${RED}"/></marker>`,
    '</defs>',
    `<rect x="0" y="0" width="${width}" height="${H}" fill="#ffffff"/>`,
    ...compoundSvg,
    `<g class="edges">${paths.join('')}</g>`,
    ...atomicSvg,
    `<g class="labels">${labels.join('')}</g>`,
    legend(legendY),
    '</svg>',
    '',
  ].join('\n');
}

/** A state's box: a compound with its title, lines and initial marker, then its children; a leaf into `atomicSvg`. */
function drawBox(b: Box, layout: DiagramLayout, compoundSvg: string[], atomicSvg: string[]): void {
  const n = b.node;
  const stroke = n.failure ? RED : n.parent === null ? '#263238' : '#546e7a';
  if (b.children.length > 0) {
    const fill = n.parent === null ? '#fafafa' : n.depth % 2 === 1 ? '#eef3f7' : '#f7fafc';
    compoundSvg.push(
      `<g class="state compound" data-id="${escapeXml(n.id)}"><rect x="${r1(b.x)}" y="${r1(b.y)}" width="${r1(b.w)}" height="${r1(b.h)}" rx="10" fill="${fill}" stroke="${stroke}" stroke-width="1.2"/>` +
        `<text x="${r1(b.x + 12)}" y="${r1(b.y + 18)}" font-size="${TITLE_SIZE}" font-weight="bold" fill="#263238">${escapeXml(n.parent === null ? `machine ${n.key}` : n.key)}</text>` +
        b.lines
          .map((l, i) => `<text x="${r1(b.x + 12)}" y="${r1(b.y + 33 + i * 13)}" font-size="${SMALL_SIZE}" fill="#546e7a">${escapeXml(l)}</text>`)
          .join('') +
        '</g>',
    );
    if (n.initial) {
      const init = layout.boxes.get(n.initial)!;
      const cx = init.x + init.w / 2;
      const cy = init.y - 16;
      compoundSvg.push(
        `<circle cx="${r1(cx - 22)}" cy="${r1(cy)}" r="5" fill="#263238"/><path d="M ${r1(cx - 17)} ${r1(cy)} Q ${r1(cx)} ${r1(cy)}, ${r1(cx)} ${r1(init.y)}" fill="none" stroke="#263238" stroke-width="1.2" marker-end="url(#arrow)"/>`,
      );
    }
    for (const c of b.children) drawBox(c, layout, compoundSvg, atomicSvg);
    return;
  }
  const fill = n.failure ? '#fde2e2' : n.type === 'final' ? '#eceff1' : '#ffffff';
  let svg = `<g class="state ${n.type}" data-id="${escapeXml(n.id)}"><rect x="${r1(b.x)}" y="${r1(b.y)}" width="${r1(b.w)}" height="${r1(b.h)}" rx="8" fill="${fill}" stroke="${stroke}" stroke-width="1.3"/>`;
  if (n.type === 'final')
    svg += `<rect x="${r1(b.x + 3)}" y="${r1(b.y + 3)}" width="${r1(b.w - 6)}" height="${r1(b.h - 6)}" rx="6" fill="none" stroke="${stroke}" stroke-width="1"/>`;
  svg += `<text x="${r1(b.x + b.w / 2)}" y="${r1(b.y + 19)}" font-size="${TITLE_SIZE}" font-weight="bold" text-anchor="middle" fill="${n.failure ? '#8e0000' : '#263238'}">${escapeXml(n.key)}</text>`;
  b.lines.forEach((l, i) => {
    svg += `<text x="${r1(b.x + b.w / 2)}" y="${r1(b.y + 33 + i * 13)}" font-size="${SMALL_SIZE}" text-anchor="middle" fill="#546e7a" font-style="italic">${escapeXml(l)}</text>`;
  });
  atomicSvg.push(`${svg}</g>`);
}

function legend(legendY: number): string {
  return [
    `<g class="legend" font-size="${SMALL_SIZE}" fill="#263238">`,
    `<path d="M ${MARGIN} ${legendY} h 34" stroke="${GREY}" stroke-width="1.3" marker-end="url(#arrow)"/><text x="${MARGIN + 42}" y="${legendY + 4}">transition</text>`,
    `<path d="M ${MARGIN + 120} ${legendY} h 34" stroke="${RED}" stroke-width="1.6" marker-end="url(#arrow-fail)"/><text x="${MARGIN + 162}" y="${legendY + 4}">failure (error, to failed/aborting)</text>`,
    `<path d="M ${MARGIN + 360} ${legendY} h 34" stroke="${RED}" stroke-width="1.6" stroke-dasharray="6 3" marker-end="url(#arrow-fail)"/><text x="${MARGIN + 402}" y="${legendY + 4}">deadline (after)</text>`,
    '</g>',
  ].join('');
}

const r1 = (x: number) => String(Math.round(x * 10) / 10);
