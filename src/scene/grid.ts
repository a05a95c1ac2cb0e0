/**
 * Precomputed weight grids (the fused path's `reducedMap`): a heads × gridRows × gridCols grid
 * of block maxima or means of the softmax weights, blocks by `blockStart` of
 * src/reference/reduce.ts. The scene may have to shrink such a grid further (all heads side by
 * side allow fewer cells per head), so a displayed cell covers grid cells
 * [blockStart(r, rows, gridRows), blockStart(r + 1, rows, gridRows)), and through them entries
 * [blockStart(blockStart(r, rows, gridRows), gridRows, length), …). Pure TypeScript (runs in Node).
 */
import { GRID_PLANES, blockOf, blockStart, forEachBlock, planGrid, type GridPlan, type ReductionMode } from '../reference/reduce';

/** The precomputed grid of a {@link PrecomputedGridSpec}: sizes per head, layout heads × rows × cols. */
export interface PrecomputedGridSpec {
  rows: number;
  cols: number;
  mode: ReductionMode;
}

/**
 * First entry of displayed cell `index` when `length` entries were reduced to `gridCells`
 * blocks and those to `cells` (`gridCells` = `cells` or undefined: one reduction).
 */
export function cellStart(index: number, cells: number, length: number, gridCells?: number): number {
  if (gridCells === undefined || gridCells === cells) return blockStart(index, cells, length);
  return blockStart(blockStart(index, cells, gridCells), gridCells, length);
}

/** The displayed cell that contains entry `entry` (inverse of {@link cellStart}). */
export function cellOfEntry(entry: number, cells: number, length: number, gridCells?: number): number {
  if (gridCells === undefined || gridCells === cells) return blockOf(entry, cells, length);
  return blockOf(blockOf(entry, gridCells, length), cells, gridCells);
}

/** Block sizes as text: '32' when all displayed cells cover as many entries, '31–33' otherwise. */
export function cellSizeText(cells: number, length: number, gridCells?: number): string {
  let small = Infinity;
  let large = 0;
  for (let n = 0; n < cells; n++) {
    const size = cellStart(n + 1, cells, length, gridCells) - cellStart(n, cells, length, gridCells);
    small = Math.min(small, size);
    large = Math.max(large, size);
  }
  return small === large ? String(small) : `${small}–${large}`;
}

/** The plan for showing one head (`head` ≥ 0) or all heads (−1) of a precomputed grid. */
export function planPrecomputed(shape: { seqLen: number; kvLen: number; heads: number }, grid: PrecomputedGridSpec, head: number): GridPlan {
  return planGrid(shape, head, grid.mode, grid);
}

/**
 * Shrink the weights of heads [headFirst, headFirst + headCount) of a grid (`values` holds
 * those heads only, headCount × gridRows × gridCols) to `plan.rows × plan.cols` per head: the
 * max of the grid cells, or their mean weighted by how many entries each covers (exactly the
 * mean over the displayed block when the grid holds means).
 */
export function downsampleGrid(values: ArrayLike<number>, grid: PrecomputedGridSpec, plan: GridPlan): Float32Array {
  const { rows, cols, headCount, seqLen, kvLen } = plan;
  const gr = grid.rows;
  const gc = grid.cols;
  const out = new Float32Array(headCount * rows * cols);
  const rowSize = (s: number) => blockStart(s + 1, gr, seqLen) - blockStart(s, gr, seqLen);
  const colSize = (s: number) => blockStart(s + 1, gc, kvLen) - blockStart(s, gc, kvLen);
  for (let hz = 0; hz < headCount; hz++) {
    const base = hz * gr * gc;
    forEachBlock(rows, cols, gr, gc, (r, c, s0, s1, t0, t1) => {
      out[(hz * rows + r) * cols + c] = gridBlock(values, base, gc, s0, s1, t0, t1, rowSize, colSize, plan.mode);
    });
  }
  return out;
}

/**
 * One displayed cell of {@link downsampleGrid}: grid cells [s0, s1) × [t0, t1) of the head at
 * `base` (`gc` columns), each weighted by the entries it covers (`rowSize(s) · colSize(t)`).
 */
function gridBlock(
  values: ArrayLike<number>,
  base: number,
  gc: number,
  s0: number,
  s1: number,
  t0: number,
  t1: number,
  rowSize: (s: number) => number,
  colSize: (t: number) => number,
  mode: ReductionMode,
): number {
  let best = -Infinity;
  let sum = 0;
  let count = 0;
  for (let s = s0; s < s1; s++) {
    const rs = rowSize(s);
    for (let t = t0; t < t1; t++) {
      const v = values[base + s * gc + t];
      if (v > best) best = v;
      const n = rs * colSize(t);
      sum += v * n;
      count += n;
    }
  }
  return mode === 'max' ? best : count > 0 ? sum / count : 0;
}

/** Entries (i, j) with i ∈ [i0, i1), j ∈ [j0, j1) and j > i: what a causal mask removes. */
export function maskedCount(i0: number, i1: number, j0: number, j1: number): number {
  if (j0 > i1 - 1) return (i1 - i0) * (j1 - j0); // every key after every query
  if (j1 - 1 <= i0) return 0; // every key at or before every query
  let count = 0;
  for (let i = i0; i < i1; i++) count += Math.max(0, j1 - Math.max(j0, i + 1));
  return count;
}

/**
 * The five planes of reduceAttention for a weights-only grid: raw, scaled and masked are 0
 * (they do not exist on the fused path), weights are `weights` (plan cells), maskFrac is the
 * fraction of each displayed block that the causal mask removes (1 = fully masked: drawn on the
 * grey floor).
 */
export function weightsOnlyPlanes(weights: Float32Array, plan: GridPlan, causal: boolean, gridRows: number, gridCols: number): Float32Array {
  const { rows, cols, headCount, seqLen, kvLen } = plan;
  const cells = headCount * rows * cols;
  const planes = new Float32Array(GRID_PLANES.length * cells);
  planes.set(weights.subarray(0, cells), 3 * cells);
  if (causal) {
    const fractions = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const i0 = cellStart(r, rows, seqLen, gridRows);
      const i1 = cellStart(r + 1, rows, seqLen, gridRows);
      for (let c = 0; c < cols; c++) {
        const j0 = cellStart(c, cols, kvLen, gridCols);
        const j1 = cellStart(c + 1, cols, kvLen, gridCols);
        fractions[r * cols + c] = maskedCount(i0, i1, j0, j1) / ((i1 - i0) * (j1 - j0));
      }
    }
    for (let hz = 0; hz < headCount; hz++) planes.set(fractions, 4 * cells + hz * rows * cols);
  }
  return planes;
}
