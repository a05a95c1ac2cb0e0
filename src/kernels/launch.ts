/**
 * Dispatch and chunk arithmetic of every kernel, as pure functions (no WebGPU: unit-tested in
 * Node). How many workgroups each stage launches for a shape and tuning, which output-kernel
 * variant fits a head size, and how long runs are split into submissions.
 */
import { AttentionInputError } from '../core/errors';
import type { ResolvedShape, StageName } from '../core/types';
import type { AttentionTuning } from './tuning';

// The tile sizes are defined here and handed to the kernel templates as variables
// (src/kernels/shaders.ts), so the dispatch arithmetic and the WGSL cannot disagree.
/** Register tile edge of the projections kernel. */
export const PROJ_TILE = 4;
/** Register tile edge of the scores and output kernels. */
export const MAP_TILE = 8;
/** Queries per invocation of the output kernel's narrow variant. */
export const NARROW_ROWS = 16;
/** Rows per invocation of the model's linear kernel (shaders/linear.wgsl). */
export const LINEAR_ROWS = 4;
/** Adjacent output columns per invocation of the linear kernel (one vec4 accumulator per row; the WGSL assumes 4). */
export const LINEAR_COLS = 4;

/** Workgroups along x, y, z. */
export type Dims = [number, number, number];

/** A 2-D dispatch size holding `count` workgroups within `maxPerDimension` per dimension. */
export function spread(count: number, maxPerDimension: number): [number, number] {
  if (count <= maxPerDimension) return [count, 1];
  const y = Math.ceil(count / maxPerDimension);
  return [Math.ceil(count / y), y];
}

/** How the output (P·V) stage is launched for one shape. */
export interface OutputLaunch {
  /**
   * 'wide': 8 queries × 8 columns per invocation; 'narrow': 16 queries × 4 columns (small
   * dHead); 'lanes': the lane-tile kernel (tunings with laneTiles), 4 teams of 4 lanes.
   */
  variant: 'wide' | 'narrow' | 'lanes';
  /** Workgroup size (x along head columns, y along queries). */
  workgroup: [number, number];
  /** Head columns and queries one workgroup covers. */
  tile: [number, number];
}

/**
 * Choose the output kernel for a head size: the 8 × 8 tile while a head fills at least half of
 * a workgroup's columns; otherwise the 16 × 4 variant with just enough invocations along x to
 * cover dHead (a power of two), the rest along y (at most 16, so a workgroup spans ≤ 256
 * queries). Lane tunings: the smallest power-of-two column count from 4 that covers dHead, at
 * most the tuning's.
 */
export function outputLaunch(dHead: number, tuning: AttentionTuning): OutputLaunch {
  if (tuning.laneTiles) {
    const { rows, cols: most } = tuning.laneTiles.output;
    let cols = 4;
    while (cols < dHead && cols * 2 <= most) cols *= 2;
    return { variant: 'lanes', workgroup: [16, 1], tile: [cols, 4 * rows] };
  }
  const [wgX, wgY] = tuning.matmulWorkgroup;
  if (2 * dHead > wgX * MAP_TILE) return { variant: 'wide', workgroup: [wgX, wgY], tile: [wgX * MAP_TILE, wgY * MAP_TILE] };
  const total = wgX * wgY;
  let x = 1;
  while (x < Math.ceil(dHead / 4) && 2 * x <= total) x *= 2;
  const y = Math.max(1, Math.min(16, Math.floor(total / x)));
  return { variant: 'narrow', workgroup: [x, y], tile: [x * 4, y * NARROW_ROWS] };
}

/** Workgroups of the projections kernel: (columns, rows of the longer of x and xKV, 3 matrices). */
export function projectionDims(s: ResolvedShape, tuning: Pick<AttentionTuning, 'matmulWorkgroup' | 'laneTiles'>): Dims {
  const rows = Math.max(s.seqLen, s.kvLen);
  const lanes = tuning.laneTiles;
  if (lanes) return [Math.ceil(s.width / lanes.projections.cols), Math.ceil(rows / (4 * lanes.projections.rows)), 3];
  const [wgX, wgY] = tuning.matmulWorkgroup;
  return [Math.ceil(s.width / (wgX * PROJ_TILE)), Math.ceil(rows / (wgY * PROJ_TILE)), 3];
}

/** Workgroups of each stage of the unfused pipeline for a shape and tuning. */
export function attentionDims(s: ResolvedShape, tuning: AttentionTuning, maxPerDimension: number): Record<StageName, Dims> {
  const lanes = tuning.laneTiles;
  const [wgX, wgY] = tuning.matmulWorkgroup;
  const out = outputLaunch(s.dHead, tuning);
  const softmaxGroups = tuning.softmaxMode === 'row-per-invocation' ? Math.ceil((s.heads * s.seqLen) / tuning.softmaxWorkgroup) : s.heads * s.seqLen;
  return {
    projections: projectionDims(s, tuning),
    scores: lanes
      ? [Math.ceil(s.kvLen / (4 * lanes.scores.cols)), Math.ceil(s.seqLen / (4 * lanes.scores.rows)), s.heads]
      : [Math.ceil(s.kvLen / (wgX * MAP_TILE)), Math.ceil(s.seqLen / (wgY * MAP_TILE)), s.heads],
    softmax: [...spread(softmaxGroups, maxPerDimension), 1],
    output: [Math.ceil(s.dHead / out.tile[0]), Math.ceil(s.seqLen / out.tile[1]), s.heads],
  };
}

/**
 * Throw an {@link AttentionInputError} naming the size that made a dispatch too large for
 * `maxComputeWorkgroupsPerDimension`: along x of scores that is kvLen, along x of projections
 * heads·dHead, along z heads, otherwise seqLen.
 */
export function checkDims(dims: Partial<Record<string, Dims>>, maxPerDimension: number): void {
  for (const [stage, d] of Object.entries(dims)) {
    if (!d) continue;
    const worst = Math.max(...d);
    if (worst <= maxPerDimension) continue;
    const field =
      stage === 'scores' && d[0] === worst ? 'kvLen' : stage === 'projections' && d[0] === worst ? 'heads·dHead' : d[2] === worst ? 'heads' : 'seqLen';
    throw new AttentionInputError(field, `a ${stage} dispatch of ${worst} workgroups in one dimension`, `at most ${maxPerDimension} (maxComputeWorkgroupsPerDimension)`, 'too-large');
  }
}

/** Most submissions one fused run is split into (each has its own timestamp pair). */
export const MAX_CHUNKS = 2047;

/** The fused kernel's split into submissions: `[firstBlock, blockCount]` each. */
export interface FusedChunks {
  /** Query blocks in all (a block is one workgroup's `blockRows` queries). */
  blocks: number;
  blocksPerChunk: number;
  chunks: Array<[number, number]>;
}

/**
 * Split the fused kernel's query blocks into submissions of about `chunkWork` multiply-adds,
 * never fewer than `minChunkGroups` workgroups (heads × blocks) per submission (else the device
 * idles), never more than `maxPerDimension` blocks, at most {@link MAX_CHUNKS} submissions.
 */
export function fusedChunks(
  s: ResolvedShape,
  /** `blockRows`: the queries one workgroup of the fused kernel owns (FusedAttentionKernel.blockRows). */
  options: { blockRows: number; chunkWork: number; minChunkGroups: number; maxPerDimension: number },
): FusedChunks {
  const { blockRows, chunkWork, minChunkGroups, maxPerDimension } = options;
  const blocks = Math.ceil(s.seqLen / blockRows);
  const perBlock = blockRows * s.kvLen * s.dHead * s.heads * (s.causal ? 0.5 : 1);
  const wanted = Math.max(Math.ceil(minChunkGroups / s.heads), Math.floor(chunkWork / perBlock));
  const chunkBlocks = Math.max(1, Math.min(blocks, maxPerDimension, wanted));
  const count = Math.min(Math.ceil(blocks / chunkBlocks), MAX_CHUNKS);
  const blocksPerChunk = Math.ceil(blocks / count);
  const chunks: Array<[number, number]> = [];
  for (let first = 0; first < blocks; first += blocksPerChunk) chunks.push([first, Math.min(blocksPerChunk, blocks - first)]);
  return { blocks, blocksPerChunk, chunks };
}

/** Rows of one reduced-map workgroup (`WG_Y` of flash-reduce.wgsl) and its columns (`WG_X`). */
export const REDUCED_MAP_WORKGROUP: [number, number] = [8, 8];

/**
 * Split a reduced map of `rows` grid rows into submissions of about `chunkWork` multiply-adds
 * (each grid row recomputes ⌈seqLen/rows⌉ query rows against every key), a multiple of the
 * workgroup's 8 rows each: `[firstRow, dims]` per submission.
 */
export function reducedMapChunks(s: ResolvedShape, rows: number, cols: number, chunkWork: number): Array<{ firstRow: number; dims: Dims }> {
  const [wgX, wgY] = REDUCED_MAP_WORKGROUP;
  const perRow = Math.ceil(s.seqLen / rows) * s.kvLen * s.dHead * s.heads * (s.causal ? 0.5 : 1);
  const chunkRows = Math.min(Math.ceil(rows / wgY) * wgY, Math.max(wgY, Math.floor(chunkWork / perRow / wgY) * wgY));
  const out: Array<{ firstRow: number; dims: Dims }> = [];
  for (let first = 0; first < rows; first += chunkRows) {
    out.push({ firstRow: first, dims: [Math.ceil(cols / wgX), Math.ceil(Math.min(chunkRows, rows - first) / wgY), s.heads] });
  }
  return out;
}

/** Most workgroups along x of an elementwise kernel (half of WebGPU's default per-dimension limit, 65535). */
const FLAT_MAX_X = 32768;

/**
 * Workgroups of 64 invocations over `count` elements as (x, y, z): x at most {@link FLAT_MAX_X},
 * y as many rows of those as needed, so an elementwise kernel over a long sequence (8192 tokens ×
 * 1536 values is 196 608 workgroups) stays within maxComputeWorkgroupsPerDimension. The kernels
 * (embed.wgsl, swiglu.wgsl, repeat-kv.wgsl) index element id.x + id.y · 64 · num_workgroups.x and
 * skip those past `count`; z is the caller's.
 */
export function flatDims(count: number, z = 1): Dims {
  const groups = Math.max(1, Math.ceil(count / 64));
  const x = Math.min(groups, FLAT_MAX_X);
  return [x, Math.ceil(groups / x), z];
}
