/**
 * What the surface draws: a LIST OF HEADS, each naming where its attention map lies (a GPU buffer
 * or a CPU array, and an element offset), its size, its token labels and which layer/head it is.
 * The scene reduces each head from where it lies (src/kernels/reduce.ts on the GPU, the f64
 * reference of src/reference/reduce.ts on the CPU), so a model's layers are drawn straight from
 * each layer's buffers and nothing is copied to line the heads up. The arrangement follows from
 * the heads' layer/head (src/scene/layout.ts `arrangeHeads`).
 *
 * This module checks a source and turns the heads on show into the five planes of a grid plan.
 */
import { AttentionError } from '../core/errors';
import type { GpuHeadMaps, GridReducer } from '../kernels/reduce';
import { GRID_PLANES, reduceAttention, type GridPlan } from '../reference/reduce';
import { downsampleGrid, weightsOnlyPlanes, type PrecomputedGridSpec } from './grid';
import type { UserTokens } from './token-origin';

/** Which head a map is. */
export interface HeadId {
  /** The model layer; absent for a single attention (the explorer), whose heads are laid out near-square. */
  layer?: number;
  /** The head within its layer (or attention). */
  head: number;
  /** Panel title; a '\n' starts a smaller second line. Default `head h`. */
  title?: string;
}

/** What every kind of head has: its id, its map's size and its token labels. */
export interface HeadMap extends HeadId {
  /** Queries (rows of the map). */
  seqLen: number;
  /** Keys (columns of the map). */
  kvLen: number;
  /** Query token labels (may be shorter than seqLen for huge maps: indices are shown then). */
  tokens: readonly string[];
  /** Key token labels. */
  keyTokens: readonly string[];
  /** Which tokens (both axes) are the user's own words, drawn apart from continued text; absent: all alike. */
  userTokens?: UserTokens;
}

/**
 * A head whose full maps are on the GPU, on the device given to createSurfaceView: scores and
 * weights seqLen × kvLen row-major from `mapOffset` (elements) of their buffers; q_i the dHead
 * values from `qOffset + i · rowStride` of `qk`, k_j from `kOffset + j · rowStride`.
 */
export interface GpuHead extends HeadMap, GpuHeadMaps {
  /** Where v_0 lies in `qk` (v_j at `vOffset + j · rowStride`), when the values are there (the Q/K view's third cloud). */
  vOffset?: number;
}

/** A head whose full maps are CPU arrays, with the offsets and strides of {@link GpuHead}. */
export interface CpuHead extends HeadMap {
  scores: Float32Array;
  weights: Float32Array;
  mapOffset: number;
  q: Float32Array;
  k: Float32Array;
  qOffset: number;
  kOffset: number;
  rowStride: number;
  /** The values, laid out as `k` (v_j at `vOffset + j · rowStride`), when kept (the Q/K view's third cloud). */
  v?: Float32Array;
  vOffset?: number;
}

/**
 * A head of a precomputed weights grid (the fused path's reduced map): gridRows × gridCols
 * cells (the source's `grid`) row-major from element `offset` of `weights`. A GPUBuffer must be
 * on the scene's device with COPY_SRC usage; without WebGPU only a Float32Array works.
 */
export interface GridHead extends HeadMap {
  weights: GPUBuffer | Float32Array;
  offset: number;
}

/** The data a surface draws: one of three kinds, each a list of heads. */
export type SurfaceSource =
  /**
   * Full maps on the GPU: all four stages (raw, scaled, masked, weights); only the weights with
   * `weightsOnly` (a run that kept no per-head scores: its `scores` buffers are not this head's).
   */
  | { kind: 'gpu-maps'; dHead: number; causal: boolean; heads: readonly GpuHead[]; weightsOnly?: boolean }
  /** Full maps in CPU arrays (no WebGPU, or a run whose buffers are gone): all four stages. */
  | { kind: 'cpu-maps'; dHead: number; causal: boolean; heads: readonly CpuHead[] }
  /**
   * A precomputed grid of the softmax weights (the fused path): scores never exist there, so only
   * the weights stage does; `setReduction` does not apply (the grid's own `mode` is shown).
   */
  | { kind: 'weights-grid'; causal: boolean; grid: PrecomputedGridSpec; heads: readonly GridHead[] };

/** A surface source that cannot be drawn (the message names the field and what to do). */
export class SurfaceSourceError extends AttentionError {
  override name = 'SurfaceSourceError';
}

/** The map size every head of a source shares. */
export interface SourceShape {
  seqLen: number;
  kvLen: number;
  heads: number;
}

const isInt = (value: number, min: number) => Number.isInteger(value) && value >= min;

/** Elements a buffer or array holds. */
const lengthOf = (data: GPUBuffer | Float32Array) => (data instanceof Float32Array ? data.length : Math.floor(data.size / 4));

/** Throw unless `offset + count` elements fit `data`. */
function checkRange(field: string, data: GPUBuffer | Float32Array, offset: number, count: number, advice: string): void {
  if (!isInt(offset, 0)) throw new SurfaceSourceError(`${field}: the offset must be an integer ≥ 0, got ${offset}.`);
  const length = lengthOf(data);
  if (offset + count > length) {
    throw new SurfaceSourceError(`${field}: needs elements ${offset} … ${offset + count - 1}, but it holds ${length}. ${advice}`);
  }
}

/**
 * Check a source (every head the same size, every offset inside its buffer or array, a grid
 * that fits the maps) and return the size the heads share. Throws {@link SurfaceSourceError}.
 */
export function checkSource(source: SurfaceSource): SourceShape {
  const { heads } = source;
  if (heads.length === 0) throw new SurfaceSourceError('SurfaceSource.heads is empty: pass at least one head.');
  const { seqLen, kvLen } = heads[0];
  if (!isInt(seqLen, 1) || !isInt(kvLen, 1)) throw new SurfaceSourceError(`SurfaceSource.heads[0]: seqLen and kvLen must be integers ≥ 1, got ${seqLen} × ${kvLen}.`);
  const mapAdvice = 'Pass the buffers of the run the source was built from (a newer run may have resized them).';
  heads.forEach((head, n) => {
    const at = `SurfaceSource.heads[${n}]`;
    if (head.seqLen !== seqLen || head.kvLen !== kvLen) {
      throw new SurfaceSourceError(`${at}: is ${head.seqLen} × ${head.kvLen}, but heads[0] is ${seqLen} × ${kvLen}; every head of a source must have the same size.`);
    }
    if (source.kind === 'weights-grid') {
      checkRange(`${at}.weights`, (head as GridHead).weights, (head as GridHead).offset, source.grid.rows * source.grid.cols, 'A weights grid holds gridRows × gridCols values per head.');
      return;
    }
    const h = head as GpuHead | CpuHead;
    checkRange(`${at}.scores`, h.scores, h.mapOffset, seqLen * kvLen, mapAdvice);
    checkRange(`${at}.weights`, h.weights, h.mapOffset, seqLen * kvLen, mapAdvice);
    const q = 'q' in h ? h.q : h.qk;
    const k = 'k' in h ? h.k : h.qk;
    checkRange(`${at}.q`, q, h.qOffset, (seqLen - 1) * h.rowStride + source.dHead, mapAdvice);
    checkRange(`${at}.k`, k, h.kOffset, (kvLen - 1) * h.rowStride + source.dHead, mapAdvice);
  });
  if (source.kind === 'weights-grid') {
    const { rows, cols, mode } = source.grid;
    for (const [name, value, limit] of [['rows', rows, seqLen], ['cols', cols, kvLen]] as const) {
      if (!isInt(value, 1) || value > limit) throw new SurfaceSourceError(`SurfaceSource.grid.${name}: must be an integer from 1 to ${limit} (the map's size), got ${value}.`);
    }
    if (mode !== 'max' && mode !== 'mean') throw new SurfaceSourceError(`SurfaceSource.grid.mode: must be 'max' or 'mean', got ${String(mode)}.`);
  } else if (!isInt(source.dHead, 1)) {
    throw new SurfaceSourceError(`SurfaceSource.dHead: must be an integer ≥ 1, got ${source.dHead}.`);
  }
  return { seqLen, kvLen, heads: heads.length };
}

/** The heads a plan shows: [headFirst, headFirst + headCount) of the source's list. */
export function headsOf<T>(heads: readonly T[], plan: GridPlan): T[] {
  return heads.slice(plan.headFirst, plan.headFirst + plan.headCount);
}

/** The title of a head's panel. */
export function titleOf(head: HeadId): string {
  return head.title ?? `head ${head.head}`;
}

/**
 * The planes of the heads a plan shows from full maps: on the GPU (one dispatch per head, read
 * back) or with the CPU reference, head by head from its own offsets.
 */
export async function fullMapPlanes(
  source: Extract<SurfaceSource, { kind: 'gpu-maps' | 'cpu-maps' }>,
  plan: GridPlan,
  reducer: GridReducer | null,
): Promise<Float32Array> {
  const shape = { dHead: source.dHead, causal: source.causal };
  if (source.kind === 'gpu-maps') {
    if (!reducer) throw new SurfaceSourceError("SurfaceSource kind 'gpu-maps' needs the WebGPU backend on the buffers' device; without WebGPU pass kind 'cpu-maps'.");
    return reducer.reduceHeads(headsOf(source.heads, plan), shape, plan);
  }
  const cells = plan.rows * plan.cols;
  const total = plan.headCount * cells;
  const out = new Float32Array(GRID_PLANES.length * total);
  const one: GridPlan = { ...plan, headFirst: 0, headCount: 1 };
  headsOf(source.heads, plan).forEach((head, hz) => {
    const map = plan.seqLen * plan.kvLen;
    const headShape = { seqLen: plan.seqLen, kvLen: plan.kvLen, heads: 1, dHead: source.dHead, width: head.rowStride, dModel: head.rowStride, causal: source.causal };
    const planes = reduceAttention(
      headShape,
      {
        q: head.q.subarray(head.qOffset),
        k: head.k.subarray(head.kOffset),
        scores: head.scores.subarray(head.mapOffset, head.mapOffset + map),
        weights: head.weights.subarray(head.mapOffset, head.mapOffset + map),
      },
      one,
    );
    for (let p = 0; p < GRID_PLANES.length; p++) out.set(planes.subarray(p * cells, (p + 1) * cells), p * total + hz * cells);
  });
  return out;
}

/**
 * The planes of the heads a plan shows from a precomputed weights grid: each head's cells read
 * back (a GPUBuffer, in one readback) or sliced (a Float32Array), shrunk when the plan has fewer
 * cells than the grid, and completed with zeros for the score planes and the mask fractions.
 */
export async function weightsGridPlanes(source: Extract<SurfaceSource, { kind: 'weights-grid' }>, plan: GridPlan, reducer: GridReducer | null): Promise<Float32Array> {
  const { grid } = source;
  const perHead = grid.rows * grid.cols;
  const heads = headsOf(source.heads, plan);
  const values = new Float32Array(heads.length * perHead);
  const onGpu = heads.filter((head) => !(head.weights instanceof Float32Array));
  if (onGpu.length > 0 && !reducer) {
    throw new SurfaceSourceError('SurfaceSource.heads[].weights: a GPUBuffer grid needs the WebGPU backend on the buffer’s device; without WebGPU pass a Float32Array.');
  }
  const read = onGpu.length > 0 ? await reducer!.readFloats(onGpu.map((head) => [head.weights as GPUBuffer, head.offset, perHead] as const)) : [];
  let next = 0;
  heads.forEach((head, hz) => {
    const cells = head.weights instanceof Float32Array ? head.weights.subarray(head.offset, head.offset + perHead) : read[next++];
    values.set(cells, hz * perHead);
  });
  const direct = plan.rows === grid.rows && plan.cols === grid.cols;
  return weightsOnlyPlanes(direct ? values : downsampleGrid(values, grid, plan), plan, source.causal, grid.rows, grid.cols);
}
