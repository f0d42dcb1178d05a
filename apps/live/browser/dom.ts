/** Element lookup and creation for the live page. */

type Attributes = Record<string, string>;
type Child = Node | string | null | undefined;

/** The element with this id, of this class (the page's markup is fixed: anything else is a bug). */
export function $(id: string): HTMLElement;
export function $<T extends Element>(id: string, type: abstract new () => T): T;
export function $(id: string, type: abstract new () => Element = HTMLElement): Element {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`live page: no ${type.name} #${id}`);
  return found;
}

/** An HTML element; `text` sets its text and `cls` its class, other keys are attributes. */
export function el(tag: string, attrs?: Attributes | null, children?: readonly Child[]): HTMLElement {
  const e = document.createElement(tag);
  if (attrs)
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.className = v;
      else e.setAttribute(k, v);
    }
  for (const c of children ?? []) if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Replaces a table's body rows in one DOM change. */
export function replaceBody(table: HTMLTableElement, rows: readonly Node[]): void {
  const body = table.tBodies[0];
  if (!body) return;
  const frag = document.createDocumentFragment();
  for (const r of rows) frag.appendChild(r);
  body.textContent = '';
  body.appendChild(frag);
}

export function kindBadge(kind: string): HTMLElement {
  return el('span', { cls: `k ${kind}`, text: kind });
}

export function setStatus(text: string, cls: string): void {
  const s = $('status');
  s.textContent = text;
  s.className = `pill ${cls}`;
}
