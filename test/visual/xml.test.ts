import { describe, expect, it } from 'vitest';
import { checkXml } from './xml.js';

describe('checkXml (the test helper itself)', () => {
  it('accepts well-formed SVG', () => {
    const r = checkXml('<?xml version="1.0"?>\n<svg a="1"><g><rect x="1"/><text>a &amp; b &#x3c;</text></g><!-- c --></svg>\n');
    expect(r.problems).toEqual([]);
    expect(r.root).toBe('svg');
    expect(r.elements.get('rect')).toBe(1);
  });
  it.each([
    ['<svg><g></svg>', '</svg> closes <g>'],
    ['<svg><rect></svg>', 'closes'],
    ['<svg><text>a & b</text></svg>', "bare '&'"],
    ['<svg a="1" a="2"/>', 'repeated'],
    ['<svg a=1/>', 'malformed'],
    ['<svg/><svg/>', 'second root'],
    ['<svg><g>', 'unclosed'],
    ['<svg><text>1 < 2</text></svg>', "'<' not starting a tag"],
  ])('rejects %s', (text, problem) => {
    expect(checkXml(text).problems.join('\n')).toContain(problem);
  });
});
