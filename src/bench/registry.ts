/**
 * The paths a benchmark sweep can run (GPU unfused, GPU fused, fast CPU, the tfjs peer) and
 * what a sweep hands them: its settings and the GPU objects of the page or app. Adding a path
 * is one entry of {@link BENCH_PATHS}; `--paths` and the bench page read the table from here.
 *
 * Import rules, on purpose: nothing here imports WebGPU kernels or tfjs statically. The GPU
 * paths use the GpuAttention they are handed (or load the kernels on demand for another
 * tuning), and the tfjs peer is imported on demand. That keeps the sweep loadable in Node
 * (scripts/bench.ts, the unit tests) and keeps tfjs out of any bundle that does not select it.
 */
import type { AttentionShape, StageName } from '../core/types';
import { AttentionError } from '../core/errors';
import type { AttentionTuning, GpuAttention } from '../kernels/attention';
import { attentionCpuParallel } from '../cpu/parallel';
import type { FastAttentionResult } from '../cpu/fast-attention';
import { PathUnavailableError, pickRows, type PathRunner } from './path';

/** A peak throughput to state fractions against, and why that number. */
export interface Peak {
  gflops: number;
  /** How the number was obtained (a datasheet, `--peak-gflops`, or an estimate and its assumptions). */
  source: string;
}

/** What a sweep (`runSweep`) measures (everything JSON-serialisable, so it goes into the report). */
export interface SweepSettings {
  /** Sequence lengths (seqLen = kvLen, self-attention). */
  sizes: number[];
  /** Timed repeats per size and path. */
  repeats: number;
  /** Untimed runs before the repeats (pipeline compilation, JIT, buffer growth). */
  warmup: number;
  /** Paths in the order they run and appear; the first is the baseline of the ratios. */
  paths: BenchPathId[];
  dModel: number;
  heads: number;
  dHead: number;
  causal: boolean;
  seed: number;
  /** Check each path against the f64 reference (full for small maps, sampled rows above). */
  verify: boolean;
  /** A peak to report fractions against (see {@link Peak}); null for none. */
  peak?: Peak | null;
}

/**
 * Just the settings of a sweep, out of a larger object (the sweep's options with their signal,
 * the command line's arguments), arrays copied and the peak null when absent: what the report
 * records as `options`, in the same key order every time.
 */
export function pickSweepSettings(source: Omit<SweepSettings, 'peak'> & { peak?: Peak | null }): SweepSettings {
  const { sizes, repeats, warmup, paths, dModel, heads, dHead, causal, seed, verify, peak } = source;
  return { sizes: [...sizes], repeats, warmup, paths: [...paths], dModel, heads, dHead, causal, seed, verify, peak: peak ?? null };
}

/** What the page or the app hands the sweep. */
export interface SweepDeps {
  /** The GpuAttention of the 'gpu' path (the app's own, so the same pipelines are measured). */
  attention?: GpuAttention;
  /** The device for GPU paths that make their own GpuAttention (another tuning); defaults to attention.device. */
  device?: GPUDevice;
}

/** A path of the sweep: how to label it and how to make its runner. */
export interface PathSpec {
  label: string;
  /** What it is, for `--help` and the README. */
  description: string;
  /**
   * Make the runner for a sweep with these settings (shape limits can be checked here); throw
   * {@link PathUnavailableError} when it cannot run here (recorded, not fatal).
   */
  create(deps: SweepDeps, settings: SweepSettings): Promise<PathRunner>;
}

const gpuStages = (t: { projections: number; scores: number; softmax: number; output: number }): Record<StageName, number> => ({
  projections: t.projections,
  scores: t.scores,
  softmax: t.softmax,
  output: t.output,
});

/** The result of `call` and the wall time from the call to the result, in ms. */
async function wallTimed<T>(call: () => Promise<T>): Promise<{ result: T; wall: number }> {
  const t0 = performance.now();
  const result = await call();
  return { result, wall: performance.now() - t0 };
}

/** The device a GPU path runs on, or {@link PathUnavailableError} when the sweep has none. */
function gpuDevice(id: string, deps: SweepDeps): GPUDevice {
  const device = deps.device ?? deps.attention?.device;
  if (!device) throw new PathUnavailableError(id, 'no GPUDevice was given to the sweep (WebGPU unavailable?)');
  return device;
}

/**
 * A GPU path on a GpuAttention: the one in `deps` (no tuning given) or one made for `tuning`.
 * Timing repeats read back only 'output', so readback does not dominate the wall time; the
 * stage times are timestamp queries when the device has them (else per-stage wall clock).
 */
export function gpuPath(id: string, tuning?: (device: GPUDevice) => AttentionTuning): PathSpec['create'] {
  return async (deps) => {
    const device = gpuDevice(id, deps);
    let attention = tuning ? undefined : deps.attention;
    let owned = false;
    if (!attention) {
      // Loaded on demand: see the module comment.
      const kernels = await import('../kernels/attention');
      attention = await kernels.createGpuAttention(device, tuning?.(device));
      owned = true;
    }
    const gpu = attention;
    return {
      async run(shape, inputs, _timed, signal) {
        const { result, wall } = await wallTimed(() => gpu.run(shape, inputs, { read: ['output'], signal }));
        const t = result.timings;
        return { stages: gpuStages(t), total: t.total, wall, source: t.source };
      },
      async actual(shape, inputs, reference) {
        if (reference.mode === 'full') {
          const { timings: _ignored, ...arrays } = await gpu.run(shape, inputs);
          return arrays;
        }
        // The buffers of the last timed run hold this shape: read the reference's rows from them.
        return gpu.readRows(reference.rows);
      },
      dispose() {
        if (owned) gpu.destroy();
      },
    };
  };
}

/** The fast CPU path across workers (`attentionCpuParallel`): wall-clock stage times. */
async function createCpuPath(): Promise<PathRunner> {
  if (typeof Worker === 'undefined') throw new PathUnavailableError('cpu', 'this environment has no Web Workers');
  let last: FastAttentionResult | null = null;
  let lastShape: AttentionShape | null = null;
  return {
    async run(shape, inputs, _timed, signal) {
      last = null;
      const { result, wall } = await wallTimed(() => attentionCpuParallel(shape, inputs, { signal }));
      last = result;
      lastShape = shape;
      const t = result.timings;
      return { stages: gpuStages(t), total: t.total, wall, source: 'wall-clock' };
    },
    async actual(shape, _inputs, reference) {
      if (!last || lastShape?.seqLen !== shape.seqLen) throw new AttentionError('cpu: no run of this shape to verify');
      const { timings: _ignored, ...arrays } = last;
      return reference.mode === 'full' ? arrays : pickRows(shape, arrays, reference.rows);
    },
    dispose() {
      last = null;
    },
  };
}

/**
 * The fused FlashAttention-style path (`createFlashAttention`, loaded on demand): projections,
 * then one kernel with an online softmax, so the scores and weights are never stored. Its
 * timings are the two passes' timestamp queries: no stage split in our four stages (the
 * fused kernel is scores, softmax and output at once), so `stages` is null, `total` is the
 * device time of both passes and `extra` holds `projections` and `fusedKernel`. Checked on
 * sampled rows only, recomputed from its q, k and row log-sum-exps (`readRows`).
 */
async function createFusedPath(deps: SweepDeps, settings: SweepSettings): Promise<PathRunner> {
  const device = gpuDevice('fused', deps);
  // Loaded on demand: see the module comment.
  const kernels = await import('../kernels/flash');
  if (settings.dHead > kernels.FLASH_MAX_DHEAD) {
    throw new PathUnavailableError('fused', `dHead ${settings.dHead} > ${kernels.FLASH_MAX_DHEAD}, the largest the fused kernel supports`);
  }
  const flash = await kernels.createFlashAttention(device);
  return {
    async run(shape, inputs, _timed, signal) {
      const { result, wall } = await wallTimed(() => flash.run(shape, inputs, { read: ['output'], signal }));
      const t = result.timings;
      const extra: Record<string, number> = {};
      // Without timestamp queries the passes have no times (NaN): leave them out rather than record NaN.
      if (Number.isFinite(t.projections)) extra.projections = t.projections;
      if (Number.isFinite(t.attention)) extra.fusedKernel = t.attention;
      return { stages: null, total: t.total, wall, source: t.source, extra };
    },
    async actual(shape, _inputs, reference) {
      if (reference.mode !== 'sampled-rows') throw new AttentionError('fused: only sampled rows can be checked (the map is never stored)');
      const { scores, weights, output } = await flash.readRows(reference.rows);
      return { scores, weights, output };
    },
    sampledRowsOnly: {
      reason: 'the fused kernel never stores scores or weights: sampled rows recomputed on the CPU from its q, k and row log-sum-exps, output rows read from the GPU',
    },
    dispose() {
      flash.destroy();
    },
  };
}

/** The tfjs-webgpu peer, loaded on demand (see `peer-tfjs.ts`). */
async function createTfjsPath(): Promise<PathRunner> {
  const { createTfjsPeer } = await import('./peer-tfjs');
  return createTfjsPeer();
}

/**
 * Every path the sweep knows, in table order. Adding one (e.g. another GpuAttention tuning)
 * is one entry here: `gpu64: { label: '…', description: '…', create: gpuPath('gpu64', (d) => ({ … })) }`.
 * `--paths` accepts exactly these keys; {@link DEFAULT_BENCH_PATH_IDS} is what runs by default.
 */
export const BENCH_PATHS = {
  gpu: {
    label: 'GPU unfused',
    description: 'our WGSL kernels, one pass per stage (projections, scores, softmax, output); timestamp-query stage times',
    create: gpuPath('gpu'),
  },
  fused: {
    label: 'GPU fused',
    description:
      'FlashAttention-style kernel: projections, then one pass with an online softmax, the seqLen × kvLen map never stored; ' +
      'total = timestamp queries of both passes, no four-stage split (table stages –; projections and fusedKernel in its detail line); ' +
      'always checked on sampled rows (recomputed from its row log-sum-exps); unavailable for dHead > 128',
    create: createFusedPath,
  },
  cpu: {
    label: 'CPU fast',
    description: 'the blocked f32 CPU path split across Web Workers; wall-clock stage times (mean over workers), total includes messaging and merging (workers are pooled and warm)',
    create: createCpuPath,
  },
  tfjs: {
    label: 'tfjs-webgpu',
    description: '@tensorflow/tfjs-backend-webgpu: matMul projections, per-head matMul, softmax, matMul; wall clock incl. output readback',
    create: createTfjsPath,
  },
} satisfies Record<string, PathSpec>;

/** Name of a path of {@link BENCH_PATHS}. */
export type BenchPathId = keyof typeof BENCH_PATHS;

/** The keys of {@link BENCH_PATHS}, in table order. */
export const BENCH_PATH_IDS = Object.keys(BENCH_PATHS) as BenchPathId[];

/**
 * The paths a sweep runs when none are named. 'fused' is opt-in (`--paths gpu,fused,cpu`): its
 * check is sampled rows even where the others are checked in full, and on SwiftShader it is
 * the slowest path at long lengths.
 */
export const DEFAULT_BENCH_PATH_IDS: readonly BenchPathId[] = ['gpu', 'cpu', 'tfjs'];
