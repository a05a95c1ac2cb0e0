/**
 * The benchmark report and its maths: the record of one path at one size (medians, spread,
 * FLOPs, GFLOP/s, the reference check) and what a whole sweep derives from its records
 * (ratios to the baseline, log-log slopes, GPU/CPU crossovers, fractions of a peak, pass).
 * Pure functions of numbers: the sweep builds records with them, scripts/bench.ts redoes the
 * derived parts of a saved report (`finishReport`) in Node, and the unit tests feed them
 * synthetic records.
 */
import { STAGE_NAMES, type AttentionShape, type ResultName, type StageName } from '../core/types';
import type { AdapterDescription } from '../kernels/tuning';
import { BenchValueError, attentionBytes, attentionFlops, crossover, fitLogLogSlope, median, spread, type LogLogFit, type Spread, type StageCounts } from './metrics';
import type { RepeatTiming, TimingSource } from './path';
import type { Peak, SweepSettings } from './registry';

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
  if (timings.length === 0) throw new BenchValueError('timings', `no timed repeats of ${path} at seqLen ${seqLen}`, 'at least one timed repeat (repeats ≥ 1)');
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
