/**
 * Dynamic time warping between two token sequences (FuseLLM's `dtw`, used by FedMKT's token
 * alignment): D[i][j] = cost(i, j) + min(D[i-1][j], D[i][j-1], D[i-1][j-1]), the path traced
 * back from the last cell preferring, on ties, the diagonal, then a sender step, then a
 * receiver step.
 */

export interface DtwPath {
  /** Cells of the path from (0, 0) to (rows - 1, cols - 1): row (sender) and column (receiver) indexes. */
  rows: Int32Array;
  cols: Int32Array;
  /** Total cost D[rows - 1][cols - 1]. */
  cost: number;
}

let sharedTable = new Float64Array(1024);

/**
 * Warp `rows` sender positions onto `cols` receiver positions given the local costs, row-major
 * (`cost[i * cols + j]`). Either side empty gives an empty path.
 */
export function dynamicTimeWarping(cost: ArrayLike<number>, rows: number, cols: number): DtwPath {
  if (cost.length < rows * cols) {
    throw new Error(`dynamicTimeWarping: cost has ${cost.length} entries, need ${rows} x ${cols} = ${rows * cols}`);
  }
  if (rows === 0 || cols === 0) return { rows: new Int32Array(0), cols: new Int32Array(0), cost: 0 };
  if (sharedTable.length < rows * cols) sharedTable = new Float64Array(2 * rows * cols);
  const d = sharedTable;
  for (let i = 0; i < rows; i++) {
    const at = i * cols;
    for (let j = 0; j < cols; j++) {
      let previous: number;
      if (i === 0 && j === 0) previous = 0;
      else if (i === 0) previous = d[at + j - 1] as number;
      else if (j === 0) previous = d[at - cols] as number;
      else {
        const diagonal = d[at - cols + j - 1] as number;
        const up = d[at - cols + j] as number;
        const left = d[at + j - 1] as number;
        previous = diagonal;
        if (up < previous) previous = up;
        if (left < previous) previous = left;
      }
      d[at + j] = (cost[at + j] as number) + previous;
    }
  }
  const pathRows: number[] = [];
  const pathCols: number[] = [];
  let i = rows - 1;
  let j = cols - 1;
  while (i > 0 || j > 0) {
    pathRows.push(i);
    pathCols.push(j);
    const diagonal = i > 0 && j > 0 ? (d[(i - 1) * cols + j - 1] as number) : Infinity;
    const up = i > 0 ? (d[(i - 1) * cols + j] as number) : Infinity;
    const left = j > 0 ? (d[i * cols + j - 1] as number) : Infinity;
    if (diagonal <= up && diagonal <= left) {
      i--;
      j--;
    } else if (up <= left) {
      i--;
    } else {
      j--;
    }
  }
  pathRows.push(0);
  pathCols.push(0);
  pathRows.reverse();
  pathCols.reverse();
  return { rows: Int32Array.from(pathRows), cols: Int32Array.from(pathCols), cost: d[rows * cols - 1] as number };
}
