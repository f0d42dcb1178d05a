/**
 * A small XML well-formedness checker for the SVG we write: one root element, every tag
 * closed in order, attributes quoted and not repeated, `<` and `&` escaped in text and values.
 * Returns the problems found (empty when well-formed) and the element names seen.
 */
export interface XmlCheck {
  problems: string[];
  elements: Map<string, number>;
  root: string | null;
}

const NAME = /[A-Za-z_][\w.:-]*/y;
const ATTR = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;
const ENTITY = /&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);/y;

export function checkXml(text: string): XmlCheck {
  const problems: string[] = [];
  const elements = new Map<string, number>();
  const stack: string[] = [];
  let root: string | null = null;
  let rootClosed = false;
  let i = 0;
  const lineOf = (pos: number) => text.slice(0, pos).split('\n').length;
  const checkText = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      if (text[k] !== '&') continue;
      ENTITY.lastIndex = k;
      if (!ENTITY.test(text)) problems.push(`line ${lineOf(k)}: bare '&'`);
    }
    if (stack.length === 0 && text.slice(from, to).trim() !== '') problems.push(`line ${lineOf(from)}: text outside the root element`);
  };
  if (text.startsWith('<?xml')) {
    const end = text.indexOf('?>');
    if (end < 0) return { problems: ['unterminated XML declaration'], elements, root };
    i = end + 2;
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      checkText(i, text.length);
      break;
    }
    checkText(i, lt);
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) {
        problems.push(`line ${lineOf(lt)}: unterminated comment`);
        break;
      }
      i = end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt);
      if (end < 0) {
        problems.push(`line ${lineOf(lt)}: unterminated CDATA`);
        break;
      }
      i = end + 3;
      continue;
    }
    const closing = text[lt + 1] === '/';
    NAME.lastIndex = lt + (closing ? 2 : 1);
    const m = NAME.exec(text);
    if (!m) {
      problems.push(`line ${lineOf(lt)}: '<' not starting a tag`);
      i = lt + 1;
      continue;
    }
    const name = m[0];
    let p = NAME.lastIndex;
    if (closing) {
      const gt = text.indexOf('>', p);
      if (gt < 0 || text.slice(p, gt).trim() !== '') problems.push(`line ${lineOf(lt)}: bad closing tag </${name}`);
      const open = stack.pop();
      if (open !== name) problems.push(`line ${lineOf(lt)}: </${name}> closes <${open ?? 'nothing'}>`);
      if (stack.length === 0) rootClosed = true;
      i = gt < 0 ? text.length : gt + 1;
      continue;
    }
    const seen = new Set<string>();
    for (;;) {
      ATTR.lastIndex = p;
      const a = ATTR.exec(text);
      if (!a) break;
      if (seen.has(a[1]!)) problems.push(`line ${lineOf(p)}: attribute ${a[1]} repeated on <${name}>`);
      seen.add(a[1]!);
      const value = a[3] ?? a[4] ?? '';
      if (value.includes('<')) problems.push(`line ${lineOf(p)}: '<' in attribute ${a[1]}`);
      const start = p + a[0].indexOf(a[2]!) + 1;
      for (let k = 0; k < value.length; k++) {
        if (value[k] !== '&') continue;
        ENTITY.lastIndex = start + k;
        if (!ENTITY.test(text)) problems.push(`line ${lineOf(p)}: bare '&' in attribute ${a[1]}`);
      }
      p = ATTR.lastIndex;
    }
    const rest = /\s*(\/?)>/y;
    rest.lastIndex = p;
    const r = rest.exec(text);
    if (!r) {
      problems.push(`line ${lineOf(lt)}: malformed tag <${name}`);
      i = p + 1;
      continue;
    }
    if (stack.length === 0) {
      if (root !== null || rootClosed) problems.push(`line ${lineOf(lt)}: second root element <${name}>`);
      root ??= name;
    }
    elements.set(name, (elements.get(name) ?? 0) + 1);
    if (r[1] !== '/') stack.push(name);
    else if (stack.length === 0) rootClosed = true;
    i = rest.lastIndex;
  }
  if (stack.length) problems.push(`unclosed: ${stack.map((s) => `<${s}>`).join(' ')}`);
  if (root === null) problems.push('no root element');
  return { problems, elements, root };
}
