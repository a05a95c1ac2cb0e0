/**
 * What the scene draws, built from the runs the app makes: a list of heads that point into the
 * run's own buffers or arrays (src/scene/sources.ts), with nothing copied. The explorer's run is
 * one attention (head h at offset h · seqLen · kvLen of its maps, columns h · dHead … of q and
 * k); a model run is one attention per layer, and head (l, h) points into layer l's buffers at
 * h · T · T, so every layer × head is drawn from where the forward pass left it.
 */
import type { ResolvedShape } from '../core/types';
import type { AttentionBuffers } from '../kernels/attention';
import type { GpuModelBuffers } from '../kernels/model';
import { attentionWidthOf, headDimOf } from '../model/llama-schema';
import type { CpuHead, GpuHead, GridHead, HeadId, SurfaceSource, UserTokens } from '../scene';
import { gridTitle, headName } from './model-view';
import type { HeadReport } from './head-scores';

/** Token labels of a map: queries and keys, and which are the user's own words (both axes). */
export interface TokenLabels {
  tokens: readonly string[];
  keyTokens: readonly string[];
  userTokens?: UserTokens | null;
}

/**
 * The user's words of an explorer example: its first `userTokens` tokens, when the sentence was
 * continued to seqLen. Null when nothing was continued (the words alone, a lesson's sentence) or
 * the input has no words (random, sinusoidal): then every label looks alike and hover says nothing.
 */
export function explorerUserTokens(example: { tokens: readonly string[]; userTokens?: number }): UserTokens | null {
  const { userTokens } = example;
  return userTokens === undefined || userTokens >= example.tokens.length ? null : { from: 0, to: userTokens };
}

/** The user's words of what the model reads: the `textTokens` after `<eos>`, when corpus text follows them (else null, as above). */
export function modelUserTokens(input: { ids: readonly number[]; textTokens?: number }): UserTokens | null {
  const { textTokens } = input;
  return textTokens === undefined || 1 + textTokens >= input.ids.length ? null : { from: 1, to: 1 + textTokens };
}

/** The CPU arrays of one attention (the layouts of core/types: q seqLen × width, maps heads × seqLen × kvLen). */
export interface AttentionArrays {
  q: Float32Array;
  k: Float32Array;
  scores: Float32Array;
  weights: Float32Array;
}

/** What an explorer run left: its GPU buffers, the CPU arrays, or the fused path's reduced weights grid. */
export type ExplorerData =
  | { gpu: AttentionBuffers }
  | { cpu: AttentionArrays }
  | { grid: { weights: GPUBuffer | Float32Array; rows: number; cols: number; mode: 'max' | 'mean' } };

/** The source of an explorer run of `shape`: its heads in order, laid out near-square. */
export function explorerSource(shape: ResolvedShape, labels: TokenLabels, data: ExplorerData): SurfaceSource {
  const { seqLen, kvLen, heads, dHead, width, causal } = shape;
  const map = seqLen * kvLen;
  const user = labels.userTokens ? { userTokens: labels.userTokens } : {};
  const base = (h: number) => ({ head: h, seqLen, kvLen, tokens: labels.tokens, keyTokens: labels.keyTokens, ...user });
  const each = <T>(make: (h: number) => T): T[] => Array.from({ length: heads }, (_, h) => make(h));
  if ('grid' in data) {
    const { weights, rows, cols, mode } = data.grid;
    return { kind: 'weights-grid', causal, grid: { rows, cols, mode }, heads: each<GridHead>((h) => ({ ...base(h), weights, offset: h * rows * cols })) };
  }
  if ('gpu' in data) {
    const b = data.gpu;
    const gpuHead = (h: number): GpuHead => ({ ...base(h), scores: b.scores, weights: b.weights, mapOffset: h * map, qk: b.qkv, qOffset: h * dHead, kOffset: b.kOffset + h * dHead, vOffset: b.vOffset + h * dHead, rowStride: width });
    return { kind: 'gpu-maps', dHead, causal, heads: each(gpuHead) };
  }
  const a = data.cpu;
  const cpuHead = (h: number): CpuHead => ({ ...base(h), scores: a.scores, weights: a.weights, mapOffset: h * map, q: a.q, k: a.k, qOffset: h * dHead, kOffset: h * dHead, rowStride: width });
  return { kind: 'cpu-maps', dHead, causal, heads: each(cpuHead) };
}

/** What {@link modelSource} reads of a model run (src/app/model-engine.ts ModelRun has all of it). */
export interface ModelSourceRun {
  model: { config: { layers: number; heads: number; dModel: number; headDim?: number; kvHeads?: number; modelType?: string } };
  /** The tokens read; `textTokens` of them (after `<eos>`) are the user's words, marked on the labels. */
  input: { ids: readonly number[]; words: readonly string[]; textTokens?: number };
  /** Every layer's CPU tensors: q, k (T × dModel), scores, weights (heads × T × T). */
  layers: ReadonlyArray<Pick<AttentionArrays, 'q' | 'k' | 'scores' | 'weights'>>;
  /** The model's GPU buffers holding this run, or null (no WebGPU, or a newer run replaced them): the arrays are drawn then. */
  buffers: GpuModelBuffers | null;
  /** Per-head reports in layer-major order (their first label titles the model view's panels). */
  heads: readonly HeadReport[];
  /** False when the run kept no per-layer scores (a large real-model run): only the weights can be drawn. */
  scoresKept?: boolean;
  /** A fused run (no maps): each layer's weights reduced to heads × rows × cols block maxima, drawn instead. */
  fused?: { rows: number; cols: number; grids: readonly Float32Array[] } | null;
}

/**
 * The source of a model run: with `selection.head` < 0 every layer × head (columns = heads, rows
 * = layers, titled with each head's strongest label), else every head of `selection.layer`.
 * Heads point into each layer's GPU buffers when `run.buffers` is set, else into its arrays.
 */
export function modelSource(run: ModelSourceRun, selection: { layer: number; head: number }): SurfaceSource {
  const { layers: L, heads: H, kvHeads } = run.model.config;
  const T = run.input.ids.length;
  // Each head's width, and the stride of q and k rows: heads · headDim (dModel for GPT-2).
  const dHead = headDimOf(run.model.config);
  const rowStride = attentionWidthOf(run.model.config);
  const everyLayer = selection.head < 0;
  const layer = Math.min(Math.max(0, selection.layer), L - 1);
  const ids: Array<Required<HeadId>> = [];
  for (let l = everyLayer ? 0 : layer; l <= (everyLayer ? L - 1 : layer); l++) {
    for (let h = 0; h < H; h++) {
      const report = run.heads.find((r) => r.layer === l && r.head === h);
      // Grouped-query models name each head's key/value head: heads that share one sit side by side.
      const kv = kvHeads !== undefined && kvHeads < H ? ` · kv${Math.floor(h / (H / kvHeads))}` : '';
      ids.push({ layer: l, head: h, title: everyLayer && report ? gridTitle(report, L * H, kv) : `${headName(l, h)}${kv}` });
    }
  }
  const userTokens = modelUserTokens(run.input);
  const user = userTokens ? { userTokens } : {};
  const base = (id: Required<HeadId>) => ({ ...id, seqLen: T, kvLen: T, tokens: run.input.words, keyTokens: run.input.words, ...user });
  const mapOffset = (id: HeadId) => id.head * T * T;
  if (run.fused) {
    // No maps exist: every head draws its layer's reduced grid (block maxima of its weights).
    const { rows, cols, grids } = run.fused;
    const gridHead = (id: Required<HeadId>): GridHead => ({ ...base(id), weights: grids[id.layer], offset: id.head * rows * cols });
    return { kind: 'weights-grid', causal: true, grid: { rows, cols, mode: 'max' }, heads: ids.map(gridHead) };
  }
  const live = run.buffers;
  if (live) {
    const gpuHead = (id: Required<HeadId>): GpuHead => {
      const b = live.layers[id.layer];
      return { ...base(id), scores: b.scores, weights: b.weights, mapOffset: mapOffset(id), qk: b.qkv, qOffset: id.head * dHead, kOffset: b.kOffset + id.head * dHead, vOffset: b.vOffset + id.head * dHead, rowStride };
    };
    return { kind: 'gpu-maps', dHead, causal: true, heads: ids.map(gpuHead), ...(run.scoresKept === false ? { weightsOnly: true } : {}) };
  }
  const cpuHead = (id: Required<HeadId>): CpuHead => {
    const a = run.layers[id.layer];
    return { ...base(id), scores: a.scores, weights: a.weights, mapOffset: mapOffset(id), q: a.q, k: a.k, qOffset: id.head * dHead, kOffset: id.head * dHead, rowStride };
  };
  return { kind: 'cpu-maps', dHead, causal: true, heads: ids.map(cpuHead) };
}
