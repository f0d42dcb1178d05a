/**
 * The llama2.c tokenizer on files built here: run.c's encoder (rescan every pair, merge the best
 * score, leftmost on ties) written out plainly as the reference for random texts, decoding as
 * run.c prints, and broken files refused. stories260K's own file is tested against run.c's
 * outputs in test/pretrained/stories260k.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Random } from '../../core/random.js';
import { Llama2cTokenizer } from '../../core/tokenizers/llama2c-tokenizer.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';

/** A tokenizer file: unk, bos, eos, the 256 byte pieces, then `pieces` with their scores. */
function tokenizerFile(pieces: readonly [string, number][]): Buffer {
  const entries: [Buffer, number][] = [
    [Buffer.from('<unk>'), 0],
    [Buffer.from('\n<s>\n'), 0],
    [Buffer.from('\n</s>\n'), 0],
    ...Array.from({ length: 256 }, (_, b): [Buffer, number] => [Buffer.from(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), 0]),
    ...pieces.map(([p, score]): [Buffer, number] => [Buffer.from(p, 'utf8'), score]),
  ];
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]?.writeInt32LE(Math.max(...entries.map(([b]) => b.length)), 0);
  for (const [bytes, score] of entries) {
    const head = Buffer.alloc(8);
    head.writeFloatLE(score, 0);
    head.writeInt32LE(bytes.length, 4);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

/** run.c's encode (without bos), as written there: every pair rescanned per merge. */
function runCEncode(tok: Llama2cTokenizer, text: string): number[] {
  const ids: number[] = [];
  if (text.length > 0) ids.push(tok.tokenToId(' ') as number);
  for (const ch of text) {
    const id = tok.tokenToId(ch);
    if (id !== undefined) ids.push(id);
    else for (const b of Buffer.from(ch, 'utf8')) ids.push(b + 3);
  }
  for (;;) {
    let best = -1e10;
    let at = -1;
    let merged = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const id = tok.tokenToId(tok.idToToken(ids[i] as number) + tok.idToToken(ids[i + 1] as number));
      if (id !== undefined && tok.score(id) > best) [best, at, merged] = [tok.score(id), i, id];
    }
    if (at < 0) return ids;
    ids.splice(at, 2, merged);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fedmkt-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// letters, their pairs and triples with scores that tie often (several merges of score 1 and 2)
const letters = ['a', 'b', 'c', ' ', 'é'];
const pieces: [string, number][] = [...letters.map((l): [string, number] => [l, -5])];
for (const x of letters) for (const y of letters) if (x !== ' ' || y !== ' ') pieces.push([x + y, (x.charCodeAt(0) + y.charCodeAt(0)) % 3]);
pieces.push(['abc', 4], [' ab', 3], ['cab', 3], ['aaaa', 5]);
const file = join(dir, 'tokenizer.bin');
writeFileSync(file, tokenizerFile(pieces));

describe('llama2.c tokenizer', () => {
  const tok = Llama2cTokenizer.fromFile(file);

  it("encodes random texts as run.c's pair-by-pair loop does (ties merge leftmost, unknown characters as bytes)", () => {
    const rng = new Random(3);
    const alphabet = ['a', 'b', 'c', ' ', 'é', 'z', '🍰'];
    for (let n = 0; n < 300; n++) {
      const text = Array.from({ length: rng.int(30) }, () => alphabet[rng.int(alphabet.length)]).join('');
      expect(tok.encode(text)).toEqual(runCEncode(tok, text));
    }
    expect(tok.encode('')).toEqual([]);
    // z is no piece: its byte 0x7a is id 0x7a + 3
    expect(tok.encode('z')).toEqual([tok.tokenToId(' '), 0x7a + 3]);
  });

  it('decodes as run.c prints: a piece after bos loses one leading space, byte pieces are bytes', () => {
    const ids = [1, ...tok.encode('ab é🍰 cab')];
    expect(tok.decode(ids)).toBe('ab é🍰 cab');
    expect(tok.decode(tok.encode('ab'))).toBe(' ab');
    expect(tok.specials).toEqual({ unk: 0, bos: 1, eos: 2 });
    expect(tok.idToToken(1)).toBe('\n<s>\n');
  });

  it('is loaded from a .bin path by the registry; a cut-off file is refused', async () => {
    expect((await loadTokenizer(file)).encode('abc')).toEqual(tok.encode('abc'));
    const cut = join(dir, 'cut.bin');
    writeFileSync(cut, tokenizerFile(pieces).subarray(0, 103));
    expect(() => Llama2cTokenizer.fromFile(cut)).toThrow(/llama2\.c tokenizer .*cut\.bin: entry \d+ (is cut off|has length)/);
    await expect(loadTokenizer(join(dir, 'none.bin'))).rejects.toThrow(/Unknown tokenizer ".*none\.bin": not a registry name/);
  });
});
