/**
 * The app's policy, without the DOM or WebGPU: which path computes a view (full maps on the
 * GPU, the fused path, or the CPU reference without WebGPU), how far seqLen reaches on this
 * device, what is copied back, and when the fast CPU path is timed. Pure (tested in Node):
 * the device is described by {@link DeviceFacts}.
 */
import { AttentionInputError, formatBytes } from '../core/errors';
import type { ResolvedShape, ResultName } from '../core/types';
import { RESULT_NAMES } from '../core/types';
import type { AppState } from './state';

/** What the plan needs to know about the device; `null` when there is no WebGPU. */
export interface DeviceFacts {
  /** The largest storage buffer (min of maxStorageBufferBindingSize and maxBufferSize), bytes. */
  maxStorageBytes: number;
  /** The largest dHead of the fused path. */
  fusedMaxDHead: number;
}

/** The longest sequence the app offers on the fused path. */
export const FUSED_MAX_SEQ_LEN = 65536;
/** Maps up to this many entries are copied back whole (hover and export read them directly). */
export const READBACK_ENTRIES = 1 << 21;
/** Export refuses maps over this many entries (a CSV of more is not useful in a spreadsheet). */
export const EXPORT_ENTRIES = 1 << 22;
/** Without WebGPU the reference itself is drawn, up to this many heads·seqLen·kvLen·dHead. */
export const CPU_FALLBACK_BUDGET = 6e8;
/** The fast CPU path is timed automatically up to this many FLOPs (about a second here). */
export const CPU_AUTO_FLOPS = 2e9;
/** Side of the surface grid the fused path reduces its weights to. */
export const FUSED_GRID_SIDE = 256;
/** Without WebGPU, the sequence lengths the sweep and panel offer. */
const NO_GPU_SEQ_LEN = 2048;

/** Largest seqLen whose full map (heads × seqLen²) fits one storage buffer. */
export function maxFullSeqLen(device: DeviceFacts | null, heads: number): number {
  if (!device) return NO_GPU_SEQ_LEN;
  return Math.max(2, Math.floor(Math.sqrt(device.maxStorageBytes / 4 / Math.max(1, heads))));
}

/** Largest seqLen the app offers: full maps, then the fused path where the head size allows. */
export function seqLenReach(device: DeviceFacts | null, heads: number, dHead: number): number {
  return device && Number.isInteger(dHead) && dHead <= device.fusedMaxDHead ? FUSED_MAX_SEQ_LEN : maxFullSeqLen(device, heads);
}

/**
 * Refuse a seqLen beyond the reach of this device for the inputs that take one (random,
 * sinusoidal, and a sentence, which is continued to seqLen; the lessons' examples set their
 * own), saying why.
 */
export function checkReach(state: AppState, device: DeviceFacts | null): void {
  const usesSeqLen = state.input === 'random' || state.input === 'sinusoidal' || state.input === 'sentence';
  if (!usesSeqLen || !Number.isInteger(state.seqLen)) return;
  const heads = Number.isInteger(state.heads) && state.heads > 0 ? state.heads : 1;
  const full = maxFullSeqLen(device, heads);
  const reach = seqLenReach(device, heads, state.dHead);
  if (state.seqLen <= reach) return;
  const why =
    reach > full
      ? `up to ${full} as a full map, beyond that on the fused path`
      : `the largest full ${state.heads}-head map this device holds${device ? `; the fused path needs dHead ≤ ${device.fusedMaxDHead}` : ''}`;
  throw new AttentionInputError('seqLen', String(state.seqLen), `an integer from 2 to ${reach} (${why})`, 'too-large');
}

/** How a view is computed. */
export type PathPlan =
  | {
      path: 'full';
      /** What to copy back: everything for small maps, no maps for large ones (hover reads cells). */
      read: readonly ResultName[];
      /** The fused path can take over if the device cannot allocate the full map. */
      fusedFallback: boolean;
    }
  | {
      path: 'fused';
      /** Why the full map is not stored, for the message. */
      why: string;
    }
  | { path: 'cpu' };

/** Bytes of one full map (heads × seqLen × kvLen f32). */
export function mapBytes(shape: ResolvedShape): number {
  return 4 * shape.heads * shape.seqLen * shape.kvLen;
}

/** Choose the path for a validated shape. Throws when the CPU fallback would take too long. */
export function planPath(shape: ResolvedShape, device: DeviceFacts | null): PathPlan {
  const entries = shape.heads * shape.seqLen * shape.kvLen;
  if (!device) {
    if (entries * shape.dHead > CPU_FALLBACK_BUDGET) {
      throw new AttentionInputError('seqLen', String(shape.seqLen), `a smaller size on the CPU fallback (heads·seqLen·kvLen·dHead ≤ ${CPU_FALLBACK_BUDGET.toExponential(0)})`, 'too-large');
    }
    return { path: 'cpu' };
  }
  const bytes = mapBytes(shape);
  const fusedFallback = shape.dHead <= device.fusedMaxDHead;
  if (bytes <= device.maxStorageBytes) {
    return { path: 'full', read: entries <= READBACK_ENTRIES ? RESULT_NAMES : ['q', 'k', 'v', 'output'], fusedFallback };
  }
  return {
    path: 'fused',
    why: `The full ${shape.heads}×${shape.seqLen}×${shape.kvLen} map needs ${formatBytes(bytes)} (${bytes} bytes), more than one storage buffer holds (${formatBytes(device.maxStorageBytes)}, ${device.maxStorageBytes} bytes)`,
  };
}

/** Why the fused path took over after the device could not allocate the full map. */
export function outOfMemoryWhy(shape: ResolvedShape): string {
  return `The device could not allocate the full ${formatBytes(mapBytes(shape))} map twice (scores and weights)`;
}

/** The panel shows the example's real sizes (lesson examples and imports fix them). */
export function shapeIntoState(state: AppState, shape: ResolvedShape): AppState {
  return { ...state, seqLen: shape.seqLen, dModel: shape.dModel, heads: shape.heads, dHead: shape.dHead, causal: shape.causal };
}

/** Whether the fast CPU path is timed without being asked, or why not. */
export function cpuTimingPlan(path: PathPlan['path'], flops: number): { auto: true } | { auto: false; why: string; offer: boolean } {
  if (path === 'fused') return { auto: false, why: 'The fast CPU path stores the full map, which at this size does not fit; it is not timed on the fused path.', offer: false };
  if (flops <= CPU_AUTO_FLOPS) return { auto: true };
  return { auto: false, why: `Not timed automatically above ${CPU_AUTO_FLOPS / 1e9} GFLOP (this run is ${(flops / 1e9).toFixed(1)}).`, offer: true };
}
