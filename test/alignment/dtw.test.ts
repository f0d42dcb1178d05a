import { describe, expect, it } from 'vitest';
import { dynamicTimeWarping } from '../../core/alignment/dtw.js';

const cells = (path: { rows: Int32Array; cols: Int32Array }) => Array.from(path.rows, (row, p) => [row, path.cols[p]]);

describe('dynamic time warping', () => {
  it('walks the diagonal when tokens pair up one to one', () => {
    const cost = [0, 5, 5, /**/ 5, 0, 5, /**/ 5, 5, 0];
    const path = dynamicTimeWarping(cost, 3, 3);
    expect(cells(path)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(path.cost).toBe(0);
  });

  it('warps many sender positions onto one receiver position and one onto many', () => {
    // Sender "dyn","amic","al" against receiver "dynamic","al": rows 0-1 meet column 0.
    const manyToOne = dynamicTimeWarping([3, 6, /**/ 3, 6, /**/ 6, 0], 3, 2);
    expect(cells(manyToOne)).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
    ]);
    // Transposed: one sender position meets receiver columns 0 and 1.
    const oneToMany = dynamicTimeWarping([3, 3, 6, /**/ 6, 6, 0], 2, 3);
    expect(cells(oneToMany)).toEqual([
      [0, 0],
      [0, 1],
      [1, 2],
    ]);
  });

  it('prefers the diagonal on ties, then a sender step, then a receiver step', () => {
    // All-zero costs: every move ties; the diagonal wins, then rows advance alone.
    expect(cells(dynamicTimeWarping(new Array<number>(6).fill(0), 3, 2))).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
    ]);
    expect(cells(dynamicTimeWarping(new Array<number>(6).fill(0), 2, 3))).toEqual([
      [0, 0],
      [0, 1],
      [1, 2],
    ]);
    expect(cells(dynamicTimeWarping(new Array<number>(9).fill(1), 3, 3))).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
  });

  it('gives an empty path when a side is empty and checks the cost size', () => {
    expect(dynamicTimeWarping([], 0, 4).rows).toHaveLength(0);
    expect(() => dynamicTimeWarping([0, 0], 2, 2)).toThrow(/cost has 2 entries, need 2 x 2 = 4/);
  });
});
