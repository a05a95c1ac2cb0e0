/**
 * The view pipeline: from an example to what the page shows, without touching the DOM. It runs
 * the path {@link planPath} chooses (full maps on the GPU, the fused path, or the f64 reference
 * without WebGPU), verifies by the one policy of src/verify/policy.ts, reads single cells for
 * hover and whole maps for export, and times the fast CPU path. src/ui/app.ts wires it to the
 * panel, the scene and the cards.
 */
import { AttentionAbortError, AttentionError, GpuOutOfMemoryError } from '../core/errors';
import { resolveShape, type AttentionResult, type ResolvedShape, type StageTimings } from '../core/types';
import { maxStorageBytes } from '../gpu/buffers';
import { deviceRegistry } from '../gpu/registry';
import type { AttentionBuffers, GpuAttention } from '../kernels/attention';
import { createFlashAttention, FLASH_MAX_DHEAD, type FlashAttention, type FlashBuffers } from '../kernels/flash';
import type { Example } from '../inputs/examples';
import { attentionCpuParallel } from '../cpu/parallel';
import type { ReferenceClient } from '../workers/reference-client';
import type { VerificationReport } from '../verify/compare';
import { describePlan, verificationPlan } from '../verify/policy';
import type { CellInfo, SurfaceSource } from '../scene';
import { FUSED_GRID_SIDE, READBACK_ENTRIES, outOfMemoryWhy, planPath, type DeviceFacts, type PathPlan } from './plan';
import { explorerSource, explorerUserTokens } from './sources';

/** The GPU the engine computes on, or null without WebGPU. */
export interface GpuContext {
  device: GPUDevice;
  attention: GpuAttention;
}

/** A computed explorer view: what the scene draws, what hover and export read, how it was made. */
export interface ComputedView {
  example: Example;
  shape: ResolvedShape;
  path: PathPlan['path'];
  /** Arrays copied back (all six for small maps on the GPU, the reference without WebGPU). */
  arrays: Partial<AttentionResult>;
  /** The f64 reference when it was computed whole and is small enough to keep (hover shows it). */
  reference: AttentionResult | null;
  /** GPU stage times (the fused path's kernel stands in the scores row), or null on the CPU path. */
  timings: StageTimings | null;
  /** How long the reference took when it was the result itself (no WebGPU). */
  referenceMs: number | null;
  /** What the scene draws. */
  source: SurfaceSource;
  /** Why the fused path was taken, when it was. */
  fusedWhy: string | null;
  /** The run this view came from: hover and export read it while it is still the last one. */
  gpuBuffers: AttentionBuffers | null;
  fusedBuffers: FlashBuffers | null;
  /**
   * The hold on those buffers (src/gpu/runner.ts): while it lasts no later run writes into them;
   * the page releases it when another view replaces this one (or this one is never shown).
   */
  held: { release(): void; readonly released: boolean } | null;
}

/** One request to {@link ViewEngine.compute}. */
export interface ComputeRequest {
  example: Example;
  /** How blocks become cells on the fused path (its grid is reduced on the GPU in this mode). */
  reduction: 'max' | 'mean';
  signal: AbortSignal;
  /** Progress for the busy bar: a line and, when known, the fraction done. */
  onProgress?: (text: string, fraction?: number) => void;
  /** Called once the fused path is chosen, with why. */
  onFused?: (why: string) => void;
}

/** The outcome of {@link ViewEngine.verify}. */
export type ViewVerification =
  | { kind: 'report'; report: VerificationReport; referenceMs: number; scope: string; reference: AttentionResult | null }
  | { kind: 'skipped'; why: string };

/** A cell's values, or why they cannot be read any more. */
export type CellValues = { score: number; weight: number } | { unavailable: string };

export interface ViewEngine {
  /** The device facts the plan uses (null without WebGPU). */
  facts(): DeviceFacts | null;
  /** Compute a view; rejects with an AbortError when `signal` aborts. */
  compute(request: ComputeRequest): Promise<ComputedView>;
  /** Check a view against the f64 reference (whole, or sampled rows, by the policy). */
  verify(view: ComputedView, signal: AbortSignal): Promise<ViewVerification>;
  /** The score and weight of one cell (its first entry), from memory or the device. */
  readCell(view: ComputedView, cell: CellInfo): Promise<CellValues>;
  /** Scores and weights of the whole map (heads × seqLen × kvLen), for export. */
  readMap(view: ComputedView): Promise<{ scores: Float32Array; weights: Float32Array }>;
  /** Time the fast CPU path (Float32, workers) on a view's example; the first call warms up. */
  timeCpu(view: ComputedView, signal: AbortSignal): Promise<StageTimings>;
}

/** The registry key of the explorer's fused runner (src/gpu/registry: made once per device, gone with it). */
export const FUSED_KEY = 'explorer/flash';

export { isAbort } from './pipeline';

export function createViewEngine(deps: { gpu: () => GpuContext | null; reference: ReferenceClient; cpuWorkers: number }): ViewEngine {
  /** The fused runner of the device the last fused view was made on (a new device's registry makes a new one). */
  let fused: FlashAttention | null = null;
  let cpuWarm = false;

  const facts = (): DeviceFacts | null => {
    const gpu = deps.gpu();
    return gpu ? { maxStorageBytes: maxStorageBytes(gpu.device).bytes, fusedMaxDHead: FLASH_MAX_DHEAD } : null;
  };
  /** Whether a GPU view's buffers still hold it: its hold is not released (else: the last run's). */
  const onDevice = (view: ComputedView): boolean => {
    if (view.held) return !view.held.released;
    const gpu = deps.gpu();
    return view.path === 'fused' ? fused?.buffers() === view.fusedBuffers : gpu?.attention.buffers() === view.gpuBuffers;
  };
  const fusedOn = async (device: GPUDevice) => (fused = await deviceRegistry(device).get(FUSED_KEY, (d) => createFlashAttention(d)));

  async function computeFused(request: ComputeRequest, gpu: GpuContext, shape: ResolvedShape, why: string): Promise<ComputedView> {
    const { example, signal, onProgress } = request;
    request.onFused?.(why);
    const flash = await fusedOn(gpu.device);
    // Two passes over the whole map (the output, then the reduced weights), each reported as
    // half of the bar; both run in chunks, so the page draws and Cancel works between.
    const computing = `Fused path: computing ${shape.heads}×${shape.seqLen}×${shape.kvLen} without storing the map`;
    onProgress?.(`${computing}…`, 0);
    const result = await flash.run(example.shape, example.inputs, {
      read: ['output'],
      signal,
      hold: true,
      onProgress: (done, total) => onProgress?.(`${computing}: ${done} of ${total} query blocks…`, done / total / 2),
    });
    onProgress?.('Fused path: reducing the weights to the surface grid…', 0.5);
    const rows = Math.min(shape.seqLen, FUSED_GRID_SIDE);
    const cols = Math.min(shape.kvLen, FUSED_GRID_SIDE);
    let grid: Float32Array;
    try {
      grid = await flash.reducedMap({
        rows,
        cols,
        mode: request.reduction,
        signal,
        from: result.held.buffers,
        onProgress: (done, total) => onProgress?.(`Fused path: reducing the weights to the surface grid: ${done} of ${total} rows…`, 0.5 + done / total / 2),
      });
    } catch (error) {
      // Cancelled or failed between the two passes: no view will own the run's buffers.
      result.held.release();
      throw error;
    }
    const t = result.timings;
    return {
      example,
      shape,
      path: 'fused',
      arrays: { output: result.output },
      reference: null,
      timings: { projections: t.projections, scores: t.attention, softmax: Number.NaN, output: Number.NaN, total: t.total, source: t.source },
      referenceMs: null,
      source: explorerSource(shape, { tokens: example.tokens, keyTokens: example.keyTokens ?? example.tokens, userTokens: explorerUserTokens(example) }, { grid: { weights: grid, rows, cols, mode: request.reduction } }),
      fusedWhy: why,
      gpuBuffers: null,
      fusedBuffers: result.held.buffers,
      held: result.held,
    };
  }

  return {
    facts,

    async compute(request) {
      const { example, signal } = request;
      const shape = resolveShape(example.shape);
      const gpu = deps.gpu();
      const plan = planPath(shape, facts());
      const tokens = { tokens: example.tokens, keyTokens: example.keyTokens ?? example.tokens, userTokens: explorerUserTokens(example) };
      if (plan.path === 'cpu' || !gpu) {
        request.onProgress?.(`Computing ${shape.heads}×${shape.seqLen}×${shape.kvLen} on the CPU…`);
        const cpu = await deps.reference.verify(example.shape, example.inputs, {}, { returnReference: true });
        const reference = cpu.reference!;
        return { example, shape, path: 'cpu', arrays: reference, reference, timings: null, referenceMs: cpu.referenceMs, source: explorerSource(shape, tokens, { cpu: reference }), fusedWhy: null, gpuBuffers: null, fusedBuffers: null, held: null };
      }
      if (plan.path === 'fused') return computeFused(request, gpu, shape, plan.why);
      request.onProgress?.(`Computing ${shape.heads}×${shape.seqLen}×${shape.kvLen} on the GPU…`);
      try {
        // Held: a later run (even one that is cancelled) writes into another set, so what this
        // view draws and hover reads stays its own until the page replaces it.
        const run = await gpu.attention.run(example.shape, example.inputs, { read: plan.read, signal, hold: true });
        const { timings, held, ...arrays } = run;
        const buffers = held.buffers;
        return { example, shape, path: 'full', arrays, reference: null, timings, referenceMs: null, source: explorerSource(shape, tokens, { gpu: buffers }), fusedWhy: null, gpuBuffers: buffers, fusedBuffers: null, held };
      } catch (error) {
        // The device could not allocate what the limits allow: the fused path needs far less.
        if (!(error instanceof GpuOutOfMemoryError) || !plan.fusedFallback) throw error;
        return computeFused(request, gpu, shape, outOfMemoryWhy(shape));
      }
    },

    async verify(view, signal) {
      const gpu = deps.gpu();
      if (view.path === 'cpu' || !gpu) return { kind: 'skipped', why: 'No GPU result to compare: without WebGPU the CPU reference itself is drawn.' };
      const { example, shape } = view;
      const plan = verificationPlan(shape, { storesMap: view.path !== 'fused' });
      const check = async (actual: Partial<AttentionResult>, rows?: number[], keep = false) => {
        if (signal.aborted) throw new AttentionAbortError();
        return deps.reference.verify(example.shape, example.inputs, actual, { rows, returnReference: keep });
      };
      if (view.path === 'fused') {
        if (plan.mode !== 'sampled-rows') throw new AttentionError('The fused path can only be checked on sampled rows.');
        const { lse: _lse, ...actual } = await fused!.readRows(plan.rows, view.fusedBuffers ?? undefined);
        const outcome = await check(actual, plan.rows);
        return { kind: 'report', report: outcome.report, referenceMs: outcome.referenceMs, scope: `Fused path: ${describePlan(plan, shape)}`, reference: null };
      }
      if (plan.mode === 'full') {
        const actual = view.arrays.scores ? view.arrays : { ...view.arrays, ...(await gpu.attention.readRows(Array.from({ length: shape.seqLen }, (_, i) => i), view.gpuBuffers ?? undefined)) };
        // Keep the reference for hover where the map itself was copied back.
        const keep = shape.heads * shape.seqLen * shape.kvLen <= READBACK_ENTRIES;
        const outcome = await check(actual, undefined, keep);
        return { kind: 'report', report: outcome.report, referenceMs: outcome.referenceMs, scope: describePlan(plan, shape), reference: outcome.reference ?? null };
      }
      const rows = await gpu.attention.readRows(plan.rows, view.gpuBuffers ?? undefined);
      const outcome = await check(rows, plan.rows);
      return { kind: 'report', report: outcome.report, referenceMs: outcome.referenceMs, scope: describePlan(plan, shape), reference: null };
    },

    async readCell(view, cell) {
      const { seqLen, kvLen } = view.shape;
      if (view.arrays.scores && view.arrays.weights) {
        const at = (cell.head * seqLen + cell.query) * kvLen + cell.key;
        return { score: view.arrays.scores[at], weight: view.arrays.weights[at] };
      }
      // The view's buffers are held while it is on screen; released (it was replaced) or on a
      // lost device, a readout would read someone else's data, so say so instead.
      if (view.path === 'fused') {
        if (!fused || !onDevice(view)) {
          return { unavailable: 'Cell values are not available: this view’s data is no longer on the GPU. Change any setting (or re-enter the sequence length) to recompute.' };
        }
        const row = await fused.readRows([cell.query], view.fusedBuffers!);
        return { score: row.scores[cell.head * kvLen + cell.key], weight: row.weights[cell.head * kvLen + cell.key] };
      }
      const gpu = deps.gpu();
      if (!gpu || !onDevice(view)) {
        return { unavailable: 'Cell values are not available until this view is recomputed: its buffers are no longer on the GPU.' };
      }
      const [values] = await gpu.attention.readEntries([[cell.head, cell.query, cell.key]], view.gpuBuffers!);
      return values;
    },

    async readMap(view) {
      if (view.arrays.scores && view.arrays.weights) return { scores: view.arrays.scores, weights: view.arrays.weights };
      const gpu = deps.gpu();
      if (view.path !== 'full' || !gpu || !onDevice(view)) {
        throw new AttentionError('The map of this view is not on the device any more (the fused path never stores it; a newer run may have replaced it). Export the PNG, or recompute the view.');
      }
      const { scores, weights } = await gpu.attention.readRows(Array.from({ length: view.shape.seqLen }, (_, i) => i), view.gpuBuffers!);
      return { scores, weights };
    },

    async timeCpu(view, signal) {
      const options = { workers: deps.cpuWorkers, signal };
      // The first run starts the workers and compiles their code: time the second, as the GPU
      // side is timed with its pipelines already compiled.
      if (!cpuWarm) {
        await attentionCpuParallel(view.example.shape, view.example.inputs, options);
        cpuWarm = true;
      }
      return (await attentionCpuParallel(view.example.shape, view.example.inputs, options)).timings;
    },

  };
}
