/**
 * Reducing an attention map (heads × seqLen × kvLen) to a surface grid: the CPU reference of
 * shaders/reduce.wgsl, and the planning both share. Pure TypeScript (runs in Node).
 *
 * A grid has `rows × cols` cells per head. Cell (r, c) covers the query block
 * [blockStart(r), blockStart(r + 1)) and the key block [blockStart(c), blockStart(c + 1)),
 * where blockStart(n) = ⌊n · length / cells⌋: blocks differ in size by at most one entry, so
 * lengths that are not multiples of the grid still cover every entry exactly once.
 *
 * The reduced grid holds five planes, plane-major (`GRID_PLANES` order), each
 * headCount × rows × cols:
 * - raw:      q·k (no 1/√dHead), computed for EVERY entry, masked or not;
 * - scaled:   q·k / √dHead, for every entry (the scores before the mask);
 * - masked:   the scores over the unmasked entries only (0 where the whole block is masked);
 * - weights:  the softmax weights (masked entries are real zeros and count);
 * - maskFrac: the fraction of the block's entries that the causal mask removes.
 * With mode 'max' every plane is a block maximum; with 'mean' a block mean. The raw/scaled
 * mean uses the exact identity mean_{i∈I, j∈J} q_i·k_j = q̄_I · k̄_J (block means), which costs
 * (|I| + |J|)·dHead per cell instead of |I|·|J|·dHead.
 */
import { AttentionInputError } from '../core/errors';
import type { ResolvedShape } from '../core/types';

/** How a block of entries becomes one cell. */
export type ReductionMode = 'max' | 'mean';

/** The planes of a reduced grid, in storage order. */
export const GRID_PLANES = ['raw', 'scaled', 'masked', 'weights', 'maskFrac'] as const;
export type GridPlane = (typeof GRID_PLANES)[number];

/** Grid side when one head is shown: a SwiftShader frame at 256² cells stays under a second. */
export const SINGLE_HEAD_MAX_SIDE = 256;
/** Upper bound of a per-head side when all heads are shown side by side. */
export const ALL_HEADS_MAX_SIDE = 128;
/** Cells per plane that any plan may use (the GPU grid buffer is sized for this once). */
export const GRID_CELL_CAPACITY = SINGLE_HEAD_MAX_SIDE * SINGLE_HEAD_MAX_SIDE;

/** Which heads, how many cells, and how each cell is reduced. */
export interface GridPlan {
  seqLen: number;
  kvLen: number;
  /** First head in the grid (0 when all heads are shown). */
  headFirst: number;
  /** Heads in the grid: 1, or all of them. */
  headCount: number;
  /** Cells per head along the query axis (≤ seqLen). */
  rows: number;
  /** Cells per head along the key axis (≤ kvLen). */
  cols: number;
  mode: ReductionMode;
}

/** Per-head grid side limit: all heads together stay within {@link GRID_CELL_CAPACITY} cells. */
export function maxSideFor(headCount: number): number {
  if (headCount <= 1) return SINGLE_HEAD_MAX_SIDE;
  // ceil(√n)² ≥ n heads of (256 / ceil(√n))² cells each never exceed 256².
  return Math.min(ALL_HEADS_MAX_SIDE, Math.floor(SINGLE_HEAD_MAX_SIDE / Math.ceil(Math.sqrt(headCount))));
}

/**
 * The grid for one head (`head` ≥ 0) or for all heads (`head` = −1), of at most `within.rows ×
 * within.cols` cells per head (the map's entries, or a precomputed grid's cells).
 */
export function planGrid(
  shape: Pick<ResolvedShape, 'seqLen' | 'kvLen' | 'heads'>,
  head: number,
  mode: ReductionMode,
  within: { rows: number; cols: number } = { rows: shape.seqLen, cols: shape.kvLen },
): GridPlan {
  const all = head < 0;
  const headCount = all ? shape.heads : 1;
  const side = maxSideFor(headCount);
  return {
    seqLen: shape.seqLen,
    kvLen: shape.kvLen,
    headFirst: all ? 0 : Math.min(head, shape.heads - 1),
    headCount,
    rows: Math.min(within.rows, side),
    cols: Math.min(within.cols, side),
    mode,
  };
}

/** True when every cell is exactly one entry. */
export function isExact(plan: GridPlan): boolean {
  return plan.rows === plan.seqLen && plan.cols === plan.kvLen;
}

/** First entry of block `index` when `length` entries are split into `cells` blocks. */
export function blockStart(index: number, cells: number, length: number): number {
  return Math.floor((index * length) / cells);
}

/**
 * Calls `cell(r, c, i0, i1, j0, j1)` for every cell of a rows × cols grid, row-major: `length`
 * rows of entries split into `rows` blocks ([i0, i1)) and `width` columns into `cols` ([j0, j1)).
 */
export function forEachBlock(
  rows: number,
  cols: number,
  length: number,
  width: number,
  cell: (r: number, c: number, i0: number, i1: number, j0: number, j1: number) => void,
): void {
  for (let r = 0; r < rows; r++) {
    const i0 = blockStart(r, rows, length);
    const i1 = blockStart(r + 1, rows, length);
    for (let c = 0; c < cols; c++) cell(r, c, i0, i1, blockStart(c, cols, width), blockStart(c + 1, cols, width));
  }
}

/** The grid cell (row or column) that contains entry `entry`. */
export function blockOf(entry: number, cells: number, length: number): number {
  // Inverse of blockStart: the largest n with ⌊n·length/cells⌋ ≤ entry.
  let n = Math.min(cells - 1, Math.floor(((entry + 1) * cells - 1) / length));
  while (n > 0 && blockStart(n, cells, length) > entry) n--;
  while (n + 1 < cells && blockStart(n + 1, cells, length) <= entry) n++;
  return n;
}

/** The max or mean of the finite entries [i0, i1) × [j0, j1) of the head at `base` of a map; −∞ when none is. */
function mapBlock(map: ArrayLike<number>, base: number, kvLen: number, i0: number, i1: number, j0: number, j1: number, mode: ReductionMode): number {
  let best = -Infinity;
  let sum = 0;
  let count = 0;
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1; j++) {
      const v = map[base + i * kvLen + j];
      if (v === -Infinity) continue;
      if (v > best) best = v;
      sum += v;
      count++;
    }
  }
  return count === 0 ? -Infinity : mode === 'max' ? best : sum / count;
}

/**
 * Reduce any heads × seqLen × kvLen map to headCount × rows × cols. Entries equal to −∞ count
 * as masked and are skipped by both modes; a block with no finite entry becomes −∞.
 */
export function reduceMap(map: ArrayLike<number>, heads: number, plan: GridPlan): Float32Array {
  const { seqLen, kvLen, rows, cols, headFirst, headCount, mode } = plan;
  if (map.length !== heads * seqLen * kvLen) throw new AttentionInputError('map', `${map.length} entries`, `${heads}×${seqLen}×${kvLen} = ${heads * seqLen * kvLen} entries (heads × seqLen × kvLen of the shape)`, 'length');
  const out = new Float32Array(headCount * rows * cols);
  for (let hz = 0; hz < headCount; hz++) {
    const base = (headFirst + hz) * seqLen * kvLen;
    forEachBlock(rows, cols, seqLen, kvLen, (r, c, i0, i1, j0, j1) => {
      out[(hz * rows + r) * cols + c] = mapBlock(map, base, kvLen, i0, i1, j0, j1, mode);
    });
  }
  return out;
}

/**
 * Mean of q_i·k_j over i ∈ [i0, i1), j ∈ [j0, j1) for one head, through the block means:
 * Σ_i Σ_j q_i·k_j = (Σ_i q_i)·(Σ_j k_j), so the mean is q̄·k̄. `q` is seqLen × width, `k` is
 * kvLen × width, head h owns columns h·dHead … (h+1)·dHead − 1.
 */
export function blockMeanDot(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  shape: Pick<ResolvedShape, 'dHead' | 'width'>,
  head: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): number {
  const { dHead, width } = shape;
  let dot = 0;
  for (let d = 0; d < dHead; d++) {
    const col = head * dHead + d;
    let qs = 0;
    for (let i = i0; i < i1; i++) qs += q[i * width + col];
    let ks = 0;
    for (let j = j0; j < j1; j++) ks += k[j * width + col];
    dot += qs * ks;
  }
  return dot / ((i1 - i0) * (j1 - j0));
}

/** q_i · k_j for one head, in f64. */
function dotQK(q: ArrayLike<number>, k: ArrayLike<number>, shape: Pick<ResolvedShape, 'dHead' | 'width'>, head: number, i: number, j: number): number {
  const { dHead, width } = shape;
  const qb = i * width + head * dHead;
  const kb = j * width + head * dHead;
  let s = 0;
  for (let d = 0; d < dHead; d++) s += q[qb + d] * k[kb + d];
  return s;
}

/** The CPU arrays a reduction needs (the layouts of core/types). */
export interface ReduceInputs {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  scores: ArrayLike<number>;
  weights: ArrayLike<number>;
}

/**
 * The five planes of the module comment for one plan, plane-major:
 * `out[p · cells + (hz · rows + r) · cols + c]` with cells = headCount · rows · cols. Masking is
 * decided by the shape (causal and key > query), the same rule the scores kernel applies.
 */
export function reduceAttention(shape: ResolvedShape, inputs: ReduceInputs, plan: GridPlan): Float32Array {
  const { seqLen, kvLen, rows, cols, headFirst, headCount, mode } = plan;
  const cells = headCount * rows * cols;
  const out = new Float32Array(GRID_PLANES.length * cells);
  const scale = 1 / Math.sqrt(shape.dHead);
  for (let hz = 0; hz < headCount; hz++) {
    const head = headFirst + hz;
    const base = head * seqLen * kvLen;
    for (let r = 0; r < rows; r++) {
      const i0 = blockStart(r, rows, seqLen);
      const i1 = blockStart(r + 1, rows, seqLen);
      for (let c = 0; c < cols; c++) {
        const j0 = blockStart(c, cols, kvLen);
        const j1 = blockStart(c + 1, cols, kvLen);
        let rawBest = -Infinity;
        let maskedBest = -Infinity;
        let maskedSum = 0;
        let weightBest = -Infinity;
        let weightSum = 0;
        let maskedCount = 0;
        for (let i = i0; i < i1; i++) {
          for (let j = j0; j < j1; j++) {
            const index = base + i * kvLen + j;
            const w = inputs.weights[index];
            weightSum += w;
            if (w > weightBest) weightBest = w;
            if (mode === 'max') rawBest = Math.max(rawBest, dotQK(inputs.q, inputs.k, shape, head, i, j));
            if (shape.causal && j > i) {
              maskedCount++;
            } else {
              const s = inputs.scores[index];
              maskedSum += s;
              if (s > maskedBest) maskedBest = s;
            }
          }
        }
        const n = (i1 - i0) * (j1 - j0);
        const unmasked = n - maskedCount;
        const raw = mode === 'max' ? rawBest : blockMeanDot(inputs.q, inputs.k, shape, head, i0, i1, j0, j1);
        const cell = (hz * rows + r) * cols + c;
        out[cell] = raw;
        out[cells + cell] = raw * scale;
        out[2 * cells + cell] = unmasked === 0 ? 0 : mode === 'max' ? maskedBest : maskedSum / unmasked;
        out[3 * cells + cell] = mode === 'max' ? weightBest : weightSum / n;
        out[4 * cells + cell] = maskedCount / n;
      }
    }
  }
  return out;
}
