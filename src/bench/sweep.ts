/**
 * The benchmark sweep: every selected path (GPU kernels, fast CPU, the tfjs peer, …) on the
 * same shapes, in the same browser, on the same adapter, with medians and spread over repeats
 * and each path's error against the f64 reference. Shared by the bench page (`npm run bench`)
 * and the app's sweep panel, so both measure the same thing the same way.
 *
 * Import rules, on purpose: nothing here imports WebGPU kernels or tfjs statically. The GPU
 * path uses the GpuAttention it is handed (or loads the kernels on demand for another
 * tuning), and the tfjs peer is imported on demand. That keeps this module loadable in Node
 * (`scripts/bench.ts` prints the table with {@link formatTable}; unit tests cover the pure
 * report functions) and keeps tfjs out of any bundle that does not select it.
 */
import { STAGE_NAMES, RESULT_NAMES, type AttentionInputs, type AttentionResult, type AttentionShape, type ResultName, type StageName } from '../core/types';
import { AttentionAbortError, AttentionError } from '../core/errors';
import type { AdapterDescription } from '../kernels/tuning';
import { describeDevice } from '../kernels/tuning';
import { deviceLimits } from '../gpu/limits';
import type { AttentionTuning, GpuAttention } from '../kernels/attention';
import { attentionCpu, attentionCpuRows, sampleRows } from '../reference/attention';
import { makeRandomInputs } from '../reference/random';
import { verifyAttention } from '../verify/compare';
import { SAMPLED_ROWS, verificationPlan } from '../verify/policy';
import { attentionCpuParallel } from '../cpu/parallel';
import type { FastAttentionResult } from '../cpu/fast-attention';
import { attentionBytes, attentionFlops, crossover, fitLogLogSlope, median, spread, type LogLogFit, type Spread, type StageCounts } from './metrics';
import { PathUnavailableError, pickRows, type PathRunner, type Reference, type RepeatTiming, type TimingSource } from './path';

export { PathUnavailableError, pickRows, type PathRunner, type Reference, type RepeatTiming, type TimingSource } from './path';

/** Median and spread of a list of repeats, per stage and for total, wall and extras. */
export interface TimingSummary {
  stages: Record<StageName, number> | null;
  total: number;
  wall: number;
  extra?: Record<string, number>;
}

/** What the reference check found for one path at one size. */
export interface Verification {
  /** 'full': every array element; 'sampled-rows': whole query rows (`rows` of them); 'off': --no-verify. */
  mode: 'full' | 'sampled-rows' | 'off';
  rows: number;
  /** Every compared array within the default tolerances of `verifyAttention` (true when off). */
  pass: boolean;
  /** Which arrays failed, empty when all passed. */
  failed: ResultName[];
  /** Why the check is what it is, when the path constrains it (e.g. the fused path: sampled rows only). */
  note?: string;
}

/** One path at one size. */
export interface SweepRecord {
  seqLen: number;
  path: string;
  label: string;
  source: TimingSource;
  /** Every timed repeat, in order (warm-up runs excluded). */
  timings: RepeatTiming[];
  median: TimingSummary;
  spread: { stages: Record<StageName, Spread> | null; total: Spread; wall: Spread };
  /** FLOPs per stage (`attentionFlops`, full map whatever the mask, so paths compare directly). */
  flops: StageCounts;
  /** Minimum bytes moved per stage by the staged pipeline (`attentionBytes`). */
  bytes: StageCounts;
  /** flops.total / median total, in GFLOP/s. */
  gflops: number;
  /** Per stage GFLOP/s, or null without a stage split. */
  stageGflops: Record<StageName, number> | null;
  /** Largest |actual − reference| per array compared (null when not verified). */
  maxError: Partial<Record<ResultName, number>> | null;
  verification: Verification;
  /** gflops / peak.gflops when the report has a peak. */
  peakFraction?: number;
}

/** A (size, path) that threw: recorded so one failure does not lose the rest of the sweep. */
export interface SweepFailure {
  seqLen: number;
  path: string;
  error: string;
}

/** A path that could not start at all (e.g. the tfjs peer has no WebGPU backend here). */
export interface UnavailablePath {
  path: string;
  label: string;
  reason: string;
}

/** A fitted power law time ∝ seqLen^slope, per path and stage (or 'total'). */
export interface SlopeFit extends LogLogFit {
  path: string;
  stage: StageName | 'total';
}

/** Where path `a` and path `b` cost the same (median totals, or a stage), by `crossover()`. */
export interface Crossover {
  a: string;
  b: string;
  stage: StageName | 'total';
  /** The seqLen where the curves meet, or null if one stays above the other over the sweep. */
  seqLen: number | null;
  /** Which path is faster at the largest size. */
  fasterAtLargest: string;
}

/** How many times slower `path` is than `baseline` at a size (> 1: the baseline is faster). */
export interface Ratio {
  seqLen: number;
  baseline: string;
  path: string;
  /** path median total / baseline median total (each path's primary measure; see `source`). */
  total: number;
  /** path median wall / baseline median wall (the same kind of measure for every path). */
  wall: number;
}

/** A peak throughput to state fractions against, and why that number. */
export interface Peak {
  gflops: number;
  /** How the number was obtained (a datasheet, `--peak-gflops`, or an estimate and its assumptions). */
  source: string;
}

/** Everything `npm run bench` writes: the project's performance record. */
export interface SweepReport {
  date: string;
  userAgent: string;
  hardwareConcurrency: number;
  adapter: AdapterDescription | null;
  /** The device limits the GPU paths ran under. */
  limits: Record<string, number> | null;
  options: SweepSettings;
  records: SweepRecord[];
  failures: SweepFailure[];
  unavailable: UnavailablePath[];
  fits: SlopeFit[];
  crossovers: Crossover[];
  ratios: Ratio[];
  peak: Peak | null;
  /** True when nothing failed and every verified record passed. */
  pass: boolean;
}

/** What {@link runSweep} measures (everything JSON-serialisable, so it goes into the report). */
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

/** {@link SweepSettings} plus what cannot go into JSON. */
export interface SweepOptions extends SweepSettings {
  signal?: AbortSignal;
  /** Called after each step: `done` of `total` steps, and what just finished. */
  onProgress?: (done: number, total: number, label: string) => void;
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

/**
 * A GPU path on a GpuAttention: the one in `deps` (no tuning given) or one made for `tuning`.
 * Timing repeats read back only 'output', so readback does not dominate the wall time; the
 * stage times are timestamp queries when the device has them (else per-stage wall clock).
 */
export function gpuPath(id: string, tuning?: (device: GPUDevice) => AttentionTuning): PathSpec['create'] {
  return async (deps) => {
    const device = deps.device ?? deps.attention?.device;
    if (!device) throw new PathUnavailableError(id, 'no GPUDevice was given to the sweep (WebGPU unavailable?)');
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
        const t0 = performance.now();
        const result = await gpu.run(shape, inputs, { read: ['output'], signal });
        const wall = performance.now() - t0;
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
      const t0 = performance.now();
      const result = await attentionCpuParallel(shape, inputs, { signal });
      const wall = performance.now() - t0;
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
  const device = deps.device ?? deps.attention?.device;
  if (!device) throw new PathUnavailableError('fused', 'no GPUDevice was given to the sweep (WebGPU unavailable?)');
  // Loaded on demand: see the module comment.
  const kernels = await import('../kernels/flash');
  if (settings.dHead > kernels.FLASH_MAX_DHEAD) {
    throw new PathUnavailableError('fused', `dHead ${settings.dHead} > ${kernels.FLASH_MAX_DHEAD}, the largest the fused kernel supports`);
  }
  const flash = await kernels.createFlashAttention(device);
  return {
    async run(shape, inputs, _timed, signal) {
      const t0 = performance.now();
      const result = await flash.run(shape, inputs, { read: ['output'], signal });
      const wall = performance.now() - t0;
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

/**
 * A sampled-rows reference: `reference` itself when it is one, else the rows the verification
 * policy samples for a path that never stores the map, picked out of the full one (no
 * recomputation).
 */
export function sampledReference(shape: AttentionShape, reference: Reference): Extract<Reference, { mode: 'sampled-rows' }> {
  if (reference.mode === 'sampled-rows') return reference;
  const plan = verificationPlan(shape, { storesMap: false });
  const rows = plan.mode === 'sampled-rows' ? plan.rows : sampleRows(shape.seqLen, SAMPLED_ROWS);
  const { scores, weights, output } = pickRows(shape, reference.expected, rows);
  return { mode: 'sampled-rows', rows, expected: { scores: scores!, weights: weights!, output: output! } };
}

/**
 * The reference for a shape, by the verification policy the app uses (src/verify/policy.ts):
 * the whole f64 result while it is cheap enough, sampled rows above.
 */
export function makeReference(shape: AttentionShape, inputs: AttentionInputs): Reference {
  const plan = verificationPlan(shape);
  if (plan.mode === 'full') return { mode: 'full', rows: null, expected: attentionCpu(shape, inputs) };
  const rows = plan.rows;
  const { scores, weights, output } = attentionCpuRows(shape, inputs, rows);
  return { mode: 'sampled-rows', rows, expected: { scores, weights, output } };
}

function summarize(timings: RepeatTiming[]): { median: TimingSummary; spread: SweepRecord['spread'] } {
  const pick = (f: (t: RepeatTiming) => number) => timings.map(f);
  const hasStages = timings.every((t) => t.stages !== null);
  // A stage a repeat could not time (NaN) has no median: NaN, which the table shows as – and the CSV leaves empty.
  const timed = (s: StageName) => pick((t) => t.stages![s]).every((v) => Number.isFinite(v));
  const untimed: Spread = { min: NaN, max: NaN, median: NaN, q1: NaN, q3: NaN, iqr: NaN, mad: NaN };
  const stageMedian = hasStages ? (Object.fromEntries(STAGE_NAMES.map((s) => [s, timed(s) ? median(pick((t) => t.stages![s])) : NaN])) as Record<StageName, number>) : null;
  const stageSpread = hasStages ? (Object.fromEntries(STAGE_NAMES.map((s) => [s, timed(s) ? spread(pick((t) => t.stages![s])) : { ...untimed }])) as Record<StageName, Spread>) : null;
  const extraKeys = [...new Set(timings.flatMap((t) => Object.keys(t.extra ?? {})))];
  const extra = Object.fromEntries(
    extraKeys
      .map((key) => [key, timings.map((t) => t.extra?.[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))] as const)
      .filter(([, values]) => values.length > 0)
      .map(([key, values]) => [key, median(values)]),
  );
  return {
    median: {
      stages: stageMedian,
      total: median(pick((t) => t.total)),
      wall: median(pick((t) => t.wall)),
      ...(extraKeys.length > 0 ? { extra } : {}),
    },
    spread: { stages: stageSpread, total: spread(pick((t) => t.total)), wall: spread(pick((t) => t.wall)) },
  };
}

/** GFLOP/s of `flops` in `ms`, or 0 when the time is not positive (a timer that read 0). */
function rate(flops: number, ms: number): number {
  return ms > 0 && Number.isFinite(ms) ? flops / (ms * 1e6) : 0;
}

/**
 * Build one record from a path's repeats and its verification. Pure: the sweep uses it, and
 * the unit tests build synthetic records with it.
 */
export function makeRecord(
  settings: Pick<SweepSettings, 'dModel' | 'heads' | 'dHead' | 'causal'>,
  seqLen: number,
  path: string,
  label: string,
  timings: RepeatTiming[],
  maxError: Partial<Record<ResultName, number>> | null,
  verification: Verification,
): SweepRecord {
  if (timings.length === 0) throw new RangeError(`makeRecord: ${path} at seqLen ${seqLen} has no timed repeats`);
  const shape: AttentionShape = { seqLen, dModel: settings.dModel, heads: settings.heads, dHead: settings.dHead, causal: settings.causal };
  const flops = attentionFlops(shape);
  const { median: med, spread: spr } = summarize(timings);
  return {
    seqLen,
    path,
    label,
    source: timings[0].source,
    timings,
    median: med,
    spread: spr,
    flops,
    bytes: attentionBytes(shape),
    gflops: rate(flops.total, med.total),
    stageGflops: med.stages ? (Object.fromEntries(STAGE_NAMES.map((s) => [s, rate(flops[s], med.stages![s])])) as Record<StageName, number>) : null,
    maxError,
    verification,
  };
}

/** Ratios of every path to the baseline (the first path) at each size where both ran. */
export function computeRatios(records: readonly SweepRecord[], paths: readonly string[]): Ratio[] {
  const [baseline, ...others] = paths;
  const ratios: Ratio[] = [];
  if (baseline === undefined) return ratios;
  const sizes = [...new Set(records.map((r) => r.seqLen))].sort((a, b) => a - b);
  for (const seqLen of sizes) {
    const base = records.find((r) => r.seqLen === seqLen && r.path === baseline);
    if (!base) continue;
    for (const path of others) {
      const other = records.find((r) => r.seqLen === seqLen && r.path === path);
      if (!other) continue;
      ratios.push({ seqLen, baseline, path, total: other.median.total / base.median.total, wall: other.median.wall / base.median.wall });
    }
  }
  return ratios;
}

/** log-log slope of time against seqLen per path, per stage and total (paths with ≥ 2 sizes). */
export function computeFits(records: readonly SweepRecord[], paths: readonly string[]): SlopeFit[] {
  const fits: SlopeFit[] = [];
  for (const path of paths) {
    const own = records.filter((r) => r.path === path).sort((a, b) => a.seqLen - b.seqLen);
    if (own.length < 2) continue;
    const xs = own.map((r) => r.seqLen);
    const series: Array<[StageName | 'total', number[] | null]> = [
      ['total', own.map((r) => r.median.total)],
      ...STAGE_NAMES.map((s): [StageName, number[] | null] => [s, own.every((r) => r.median.stages) ? own.map((r) => r.median.stages![s]) : null]),
    ];
    for (const [stage, ys] of series) {
      // A timer that read 0 has no logarithm: no fit rather than a wrong one.
      if (!ys || ys.some((y) => !(y > 0))) continue;
      fits.push({ path, stage, ...fitLogLogSlope(xs, ys) });
    }
  }
  return fits;
}

/** Where `a` and `b` cross (total and each stage), over the sizes both ran. */
export function computeCrossovers(records: readonly SweepRecord[], a: string, b: string): Crossover[] {
  const sizes = [...new Set(records.map((r) => r.seqLen))].sort((x, y) => x - y);
  const pairs = sizes
    .map((n) => [records.find((r) => r.seqLen === n && r.path === a), records.find((r) => r.seqLen === n && r.path === b)] as const)
    .filter((p): p is readonly [SweepRecord, SweepRecord] => !!p[0] && !!p[1]);
  if (pairs.length === 0) return [];
  const out: Crossover[] = [];
  const stages: Array<StageName | 'total'> = ['total', ...STAGE_NAMES];
  for (const stage of stages) {
    const value = (r: SweepRecord) => (stage === 'total' ? r.median.total : r.median.stages?.[stage]);
    const ya = pairs.map(([ra]) => value(ra));
    const yb = pairs.map(([, rb]) => value(rb));
    if ([...ya, ...yb].some((y) => y === undefined || !(y > 0))) continue;
    const xs = pairs.map(([ra]) => ra.seqLen);
    const last = pairs.length - 1;
    out.push({
      a,
      b,
      stage,
      seqLen: crossover(xs, ya as number[], yb as number[]),
      fasterAtLargest: (ya[last] as number) <= (yb[last] as number) ? a : b,
    });
  }
  return out;
}

/**
 * Fill in the derived parts of a report (ratios, fits, crossovers, peak fractions, pass)
 * from its records. Pure; call again after changing `peak`.
 */
export function finishReport(report: Omit<SweepReport, 'fits' | 'crossovers' | 'ratios' | 'pass'> & Partial<SweepReport>): SweepReport {
  const paths = report.options.paths.filter((p) => report.records.some((r) => r.path === p));
  const records = report.records.map((r) => {
    const { peakFraction: _old, ...rest } = r;
    return report.peak && report.peak.gflops > 0 ? { ...rest, peakFraction: r.gflops / report.peak.gflops } : rest;
  });
  const crossovers: Crossover[] = [];
  // GPU against CPU is the question the sweep answers; every other GPU path against the CPU too.
  for (const gpu of paths.filter((p) => p !== 'cpu' && p !== 'tfjs')) {
    if (paths.includes('cpu')) crossovers.push(...computeCrossovers(records, gpu, 'cpu'));
  }
  return {
    ...report,
    records,
    fits: computeFits(records, paths),
    crossovers,
    ratios: computeRatios(records, paths),
    pass: report.failures.length === 0 && records.every((r) => r.verification.pass),
  };
}

const fmt = (value: number | null | undefined, digits = 2): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return value.toFixed(digits);
};

function padTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

/** The worst (largest) error of a record, and which array it is in. */
function worstError(r: SweepRecord): string {
  if (!r.maxError) return '–';
  let worst: [string, number] | null = null;
  for (const name of RESULT_NAMES) {
    const e = r.maxError[name];
    if (e !== undefined && (worst === null || e > worst[1])) worst = [name, e];
  }
  return worst ? `${worst[1].toExponential(1)} ${worst[0]}` : '–';
}

/**
 * The report as plain text: one line per size and path (stage medians, total with its IQR,
 * wall, GFLOP/s, % of peak, worst error), then ratios, slopes and crossovers.
 */
export function formatTable(report: SweepReport): string {
  const o = report.options;
  const lines: string[] = [];
  lines.push(
    `adapter: ${report.adapter?.label ?? 'none'}; shape: dModel ${o.dModel}, heads ${o.heads}, dHead ${o.dHead}${o.causal ? ', causal' : ''}; ` +
      `${o.repeats} repeats (median), ${o.warmup} warm-up; seed ${o.seed}`,
  );
  const header = ['seqLen', 'path', 'proj ms', 'scores ms', 'softmax ms', 'output ms', 'total ms', '±IQR', 'wall ms', 'GFLOP/s'];
  if (report.peak) header.push('% peak');
  header.push('max err', 'check');
  const rows: string[][] = [header];
  const sorted = [...report.records].sort((a, b) => a.seqLen - b.seqLen || o.paths.indexOf(a.path as BenchPathId) - o.paths.indexOf(b.path as BenchPathId));
  for (const r of sorted) {
    const st = r.median.stages;
    const row = [
      String(r.seqLen),
      r.path,
      fmt(st?.projections, 3),
      fmt(st?.scores, 3),
      fmt(st?.softmax, 3),
      fmt(st?.output, 3),
      fmt(r.median.total, 3),
      fmt(r.spread.total.iqr, 3),
      fmt(r.median.wall, 2),
      fmt(r.gflops, 2),
    ];
    if (report.peak) row.push(r.peakFraction !== undefined ? `${(100 * r.peakFraction).toFixed(1)}%` : '–');
    row.push(worstError(r), r.verification.mode === 'off' ? 'off' : `${r.verification.pass ? 'pass' : 'FAIL'}${r.verification.mode === 'sampled-rows' ? ` (${r.verification.rows} rows)` : ''}`);
    rows.push(row);
  }
  lines.push(padTable(rows));
  const sources = [...new Set(report.records.map((r) => `${r.path}: ${r.source}`))];
  if (sources.length > 0) lines.push(`total = ${sources.join('; ')}. wall = call to result in JS (upload, submit, readback, worker start-up).`);
  const detailed = sorted.filter((r) => r.median.extra && Object.keys(r.median.extra).length > 0);
  for (const path of [...new Set(detailed.map((r) => r.path))]) {
    const parts = detailed
      .filter((r) => r.path === path)
      .map((r) => {
        const extra = r.median.extra!;
        const plain = Object.entries(extra).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${fmt(v, 1)}`);
        // Dotted keys break a measure down (kernelMs.Name): name the largest part.
        const top = Object.entries(extra).filter(([k]) => k.includes('.')).sort((a, b) => b[1] - a[1])[0];
        return `${r.seqLen}: ${plain.join(', ')}${top ? ` (most: ${top[0].split('.').slice(1).join('.')} ${fmt(top[1], 1)})` : ''}`;
      });
    lines.push(`${path} detail (median ms): ${parts.join('; ')}`);
  }
  const notes = new Map(sorted.filter((r) => r.verification.note).map((r) => [r.path, r.verification.note!]));
  for (const [path, note] of notes) lines.push(`${path} check: ${note}.`);
  const stageless = [...new Set(sorted.filter((r) => !r.median.stages).map((r) => r.path))];
  if (stageless.length > 0) lines.push(`– in a stage column: ${stageless.join(', ')} has no split into these four stages (see its detail line).`);
  for (const u of report.unavailable) lines.push(`${u.path} (${u.label}) unavailable: ${u.reason}`);
  for (const f of report.failures) lines.push(`${f.path} at seqLen ${f.seqLen} FAILED: ${f.error}`);
  if (report.ratios.length > 0) {
    lines.push('');
    lines.push(`ratios (time of path / time of ${report.ratios[0].baseline}; > 1 means ${report.ratios[0].baseline} is faster):`);
    const ratioRows = [['seqLen', 'path', 'total', 'wall']];
    for (const q of report.ratios) ratioRows.push([String(q.seqLen), q.path, `${fmt(q.total, 2)}×`, `${fmt(q.wall, 2)}×`]);
    lines.push(padTable(ratioRows));
  }
  const totals = report.fits.filter((f) => f.stage === 'total');
  if (totals.length > 0) {
    lines.push('');
    lines.push(`log-log slope of time vs seqLen: ${report.fits.filter((f) => f.stage !== 'softmax').map((f) => `${f.path} ${f.stage} ${f.slope.toFixed(2)}`).join(', ')}`);
  }
  if (report.crossovers.length > 0) {
    lines.push(
      `crossovers: ${report.crossovers
        .map((c) => `${c.a}/${c.b} ${c.stage}: ${c.seqLen === null ? `none in range (${c.fasterAtLargest} faster)` : `seqLen ≈ ${Math.round(c.seqLen)}`}`)
        .join('; ')}`,
    );
  }
  if (report.peak) lines.push(`peak: ${fmt(report.peak.gflops, 1)} GFLOP/s (${report.peak.source})`);
  return lines.join('\n');
}

/** One CSV line per record: size, path, source, stage medians, total, IQR, wall, GFLOP/s, errors. */
export function sweepToCsv(report: SweepReport): string {
  const header = [
    'seqLen', 'path', 'source',
    ...STAGE_NAMES.map((s) => `${s}_ms`),
    'total_ms', 'total_iqr_ms', 'total_min_ms', 'total_max_ms', 'wall_ms', 'gflops', 'peak_fraction',
    ...RESULT_NAMES.map((n) => `max_err_${n}`),
    'verification', 'pass',
  ];
  const cell = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(v));
  const lines = [header.join(',')];
  for (const r of report.records) {
    lines.push(
      [
        String(r.seqLen), r.path, r.source,
        ...STAGE_NAMES.map((s) => cell(r.median.stages?.[s])),
        cell(r.median.total), cell(r.spread.total.iqr), cell(r.spread.total.min), cell(r.spread.total.max), cell(r.median.wall),
        cell(r.gflops), cell(r.peakFraction),
        ...RESULT_NAMES.map((n) => cell(r.maxError?.[n])),
        r.verification.mode, String(r.verification.pass),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Run the sweep: per size, seeded random inputs (`makeRandomInputs`) and their reference; per
 * path, `warmup` untimed runs, `repeats` timed ones, then the check against the reference.
 * A path that cannot start is reported in `unavailable`; a (size, path) that throws is
 * reported in `failures` and the sweep goes on. Cancelling through `signal` rejects with
 * AttentionAbortError.
 */
export async function runSweep(options: SweepOptions, deps: SweepDeps = {}): Promise<SweepReport> {
  const { signal, onProgress } = options;
  const settings: SweepSettings = {
    sizes: [...options.sizes],
    repeats: options.repeats,
    warmup: options.warmup,
    paths: [...options.paths],
    dModel: options.dModel,
    heads: options.heads,
    dHead: options.dHead,
    causal: options.causal,
    seed: options.seed,
    verify: options.verify,
    peak: options.peak ?? null,
  };
  for (const [field, value, min] of [['repeats', settings.repeats, 1], ['warmup', settings.warmup, 0]] as const) {
    if (!Number.isInteger(value) || value < min) throw new RangeError(`runSweep: ${field} must be an integer ≥ ${min}, got ${value}`);
  }
  for (const path of settings.paths) {
    if (!(path in BENCH_PATHS)) throw new RangeError(`runSweep: unknown path '${path}'; known: ${BENCH_PATH_IDS.join(', ')}`);
  }
  const checkAbort = () => {
    if (signal?.aborted) throw new AttentionAbortError();
  };
  const device = deps.device ?? deps.attention?.device ?? null;
  const steps = settings.sizes.length * settings.paths.length + settings.paths.length;
  let done = 0;
  const step = (label: string) => onProgress?.(++done, steps, label);

  const runners = new Map<string, PathRunner>();
  const unavailable: UnavailablePath[] = [];
  const records: SweepRecord[] = [];
  const failures: SweepFailure[] = [];
  try {
    for (const path of settings.paths) {
      checkAbort();
      const spec: PathSpec = BENCH_PATHS[path];
      try {
        runners.set(path, await spec.create(deps, settings));
        step(`${path}: ready`);
      } catch (error) {
        const reason = error instanceof PathUnavailableError ? error.reason : errorText(error);
        unavailable.push({ path, label: spec.label, reason });
        step(`${path}: unavailable (${reason})`);
      }
    }
    for (const seqLen of settings.sizes) {
      checkAbort();
      const shape: AttentionShape = { seqLen, dModel: settings.dModel, heads: settings.heads, dHead: settings.dHead, causal: settings.causal };
      const inputs = makeRandomInputs(shape, settings.seed);
      let reference: Reference | null = null;
      for (const path of settings.paths) {
        const runner = runners.get(path);
        if (!runner) continue;
        checkAbort();
        try {
          for (let i = 0; i < settings.warmup; i++) await runner.run(shape, inputs, false, signal);
          const timings: RepeatTiming[] = [];
          for (let i = 0; i < settings.repeats; i++) timings.push(await runner.run(shape, inputs, true, signal));
          let maxError: Partial<Record<ResultName, number>> | null = null;
          let verification: Verification = { mode: 'off', rows: 0, pass: true, failed: [] };
          if (settings.verify) {
            // Computed once per size, after the first path's timing (so it never overlaps a timed run).
            reference ??= makeReference(shape, inputs);
            const against = runner.sampledRowsOnly ? sampledReference(shape, reference) : reference;
            const actual = await runner.actual(shape, inputs, against);
            const report = verifyAttention(shape, actual, against.expected);
            maxError = Object.fromEntries(report.stages.map((s) => [s.name, s.maxAbsErr]));
            const failed = report.stages.filter((s) => !s.pass).map((s) => s.name);
            verification = {
              mode: against.mode,
              rows: against.mode === 'full' ? seqLen : against.rows.length,
              pass: report.stages.length > 0 && failed.length === 0,
              failed,
              ...(runner.sampledRowsOnly ? { note: runner.sampledRowsOnly.reason } : {}),
            };
          }
          records.push(makeRecord(settings, seqLen, path, BENCH_PATHS[path].label, timings, maxError, verification));
          step(`${path} seqLen ${seqLen}: ${records[records.length - 1].median.total.toFixed(3)} ms`);
        } catch (error) {
          if (error instanceof AttentionAbortError || signal?.aborted) throw new AttentionAbortError();
          failures.push({ seqLen, path, error: errorText(error) });
          step(`${path} seqLen ${seqLen}: FAILED (${errorText(error)})`);
        }
      }
    }
  } finally {
    for (const runner of runners.values()) runner.dispose();
  }

  const limits = device ? deviceLimits(device) : null;
  return finishReport({
    date: new Date().toISOString(),
    userAgent: typeof navigator === 'undefined' ? 'node' : navigator.userAgent,
    hardwareConcurrency: typeof navigator === 'undefined' ? 0 : navigator.hardwareConcurrency,
    adapter: device ? describeDevice(device) : null,
    limits,
    options: settings,
    records,
    failures,
    unavailable,
    peak: settings.peak ?? null,
  });
}
