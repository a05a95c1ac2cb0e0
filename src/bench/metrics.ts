/**
 * Pure numbers for benchmarks: how much arithmetic and memory traffic an attention shape
 * implies, throughput, power-law fits of time against size, where two scaling curves cross,
 * and robust summaries of repeated timings. No clocks, no DOM: everything is unit-tested.
 */
import { AttentionError } from '../core/errors';
import { resolveShape, type AttentionShape, type StageName } from '../core/types';

/**
 * A benchmark function or setting was given a value it cannot use: which one (`field`), what
 * was given and what is allowed, so the caller knows what to pass instead.
 */
export class BenchValueError extends AttentionError {
  override name = 'BenchValueError';
  constructor(
    /** The argument or setting, e.g. `'ms'`, `'xs[2]'`, `'repeats'`. */
    readonly field: string,
    /** What was given, as text. */
    readonly given: string,
    /** What is allowed, as text. */
    readonly allowed: string,
  ) {
    super(`${field}: got ${given}; allowed: ${allowed}`);
  }
}

/** A count per pipeline stage, plus their sum. */
export type StageCounts = Record<StageName, number> & { total: number };

/** Options of {@link attentionFlops}. */
export interface FlopOptions {
  /**
   * Under a causal mask, count only the unmasked map entries in scores, softmax and output
   * (default false). Off by default so that every path (GPU kernels that compute the full map
   * then mask, CPU code that skips masked keys) is measured against the same work and their
   * GFLOP/s compare directly; on, it gives the work a mask-skipping kernel actually has to do.
   */
  causalAware?: boolean;
}

/** FLOPs charged per attention-map entry by the softmax: max, subtract, exp, sum, divide. */
export const SOFTMAX_FLOPS_PER_ENTRY = 5;

/** Number of unmasked (query, key) pairs of one head: Σᵢ min(i + 1, kvLen) under a causal mask. */
export function unmaskedEntries(shape: AttentionShape): number {
  const s = resolveShape(shape);
  if (!s.causal) return s.seqLen * s.kvLen;
  const full = Math.min(s.seqLen, s.kvLen);
  // Rows 0 … full − 1 see i + 1 keys; later rows (only when seqLen > kvLen) see all kvLen.
  return (full * (full + 1)) / 2 + (s.seqLen - full) * s.kvLen;
}

function withTotal(counts: Record<StageName, number>): StageCounts {
  return { ...counts, total: counts.projections + counts.scores + counts.softmax + counts.output };
}

/**
 * Floating-point operations per stage, counting 2 per multiply-add:
 * - projections 2·(seqLen + 2·kvLen)·dModel·width (Q from x, K and V from xKV; width = heads·dHead)
 * - scores 2·heads·seqLen·kvLen·dHead (the 1/√dHead scale is not counted: it can be folded into Q)
 * - softmax 5·heads·seqLen·kvLen ({@link SOFTMAX_FLOPS_PER_ENTRY}; exp counts as one, though it
 *   costs many instructions on every processor, so softmax GFLOP/s look low by design)
 * - output 2·heads·seqLen·kvLen·dHead
 * With `causalAware`, seqLen·kvLen becomes the unmasked count ({@link unmaskedEntries}).
 */
export function attentionFlops(shape: AttentionShape, options: FlopOptions = {}): StageCounts {
  const s = resolveShape(shape);
  const entries = options.causalAware ? unmaskedEntries(s) : s.seqLen * s.kvLen;
  return withTotal({
    projections: 2 * (s.seqLen + 2 * s.kvLen) * s.dModel * s.width,
    scores: 2 * s.heads * entries * s.dHead,
    softmax: SOFTMAX_FLOPS_PER_ENTRY * s.heads * entries,
    output: 2 * s.heads * entries * s.dHead,
  });
}

/**
 * Minimum bytes each stage must read plus write, with f32 (4-byte) values, each array moved
 * once, as the staged pipeline does it (every stage reads its inputs from memory and writes its
 * result there; a fused kernel that keeps the map on chip moves less, so `total` is the staged
 * pipeline's minimum, not attention's):
 * - projections: read x (seqLen·dModel), xKV (kvLen·dModel, only when kvLen ≠ seqLen: with equal
 *   lengths it is taken to be x, self-attention) and wq, wk, wv (3·dModel·width); write q
 *   (seqLen·width), k and v (2·kvLen·width)
 * - scores: read q and k; write the map (heads·seqLen·kvLen)
 * - softmax: read the map and write the weights (2 maps)
 * - output: read the weights and v; write the output (seqLen·width)
 * The maps are full size whatever the mask, so there is no causal option here.
 */
export function attentionBytes(shape: AttentionShape): StageCounts {
  const s = resolveShape(shape);
  const f32 = 4;
  const map = s.heads * s.seqLen * s.kvLen;
  const xKV = s.kvLen !== s.seqLen ? s.kvLen * s.dModel : 0;
  return withTotal({
    projections: f32 * (s.seqLen * s.dModel + xKV + 3 * s.dModel * s.width + (s.seqLen + 2 * s.kvLen) * s.width),
    scores: f32 * ((s.seqLen + s.kvLen) * s.width + map),
    softmax: f32 * 2 * map,
    output: f32 * (map + s.kvLen * s.width + s.seqLen * s.width),
  });
}

function checkFinite(name: string, value: number, rule: 'positive' | 'non-negative'): void {
  const ok = Number.isFinite(value) && (rule === 'positive' ? value > 0 : value >= 0);
  if (!ok) throw new BenchValueError(name, String(value), `a finite ${rule} number`);
}

/** Throughput in GFLOP/s (10⁹ FLOPs per second) of `flops` done in `ms` milliseconds. */
export function gflops(flops: number, ms: number): number {
  checkFinite('flops', flops, 'non-negative');
  checkFinite('ms', ms, 'positive');
  return flops / (ms * 1e6);
}

function checkSeries(pairs: Array<[string, readonly number[]]>, minLength: number, positive: boolean): void {
  const [firstName, first] = pairs[0];
  for (const [name, values] of pairs) {
    if (!Array.isArray(values) && !ArrayBuffer.isView(values)) throw new BenchValueError(name, typeof values, 'an array of numbers');
    if (values.length !== first.length) {
      throw new BenchValueError(name, `${values.length} values`, `as many values as ${firstName} (${first.length})`);
    }
    values.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) {
        throw new BenchValueError(`${name}[${i}]`, String(v), `a finite ${positive ? 'positive ' : ''}number`);
      }
    });
  }
  if (first.length < minLength) throw new BenchValueError(firstName, `${first.length} values`, `at least ${minLength} value${minLength === 1 ? '' : 's'}`);
}

/** A power law y = coefficient · x^slope fitted in log-log space. */
export interface LogLogFit {
  /** The exponent: 2 for time growing with the square of the size. */
  slope: number;
  /** Natural log of the coefficient: ln y = intercept + slope · ln x. */
  intercept: number;
  /** e^intercept, the y of x = 1 (independent of the log base). */
  coefficient: number;
  /** Coefficient of determination of the fit in log space (1 = every point on the line). */
  r2: number;
}

/**
 * Least-squares line through (ln x, ln y): the exponent of how y scales with x. Needs at least
 * two points with distinct x; every x and y must be positive (throws a BenchValueError naming the
 * first bad `xs[i]` / `ys[i]`, or the array whose length does not match).
 */
export function fitLogLogSlope(xs: readonly number[], ys: readonly number[]): LogLogFit {
  checkSeries([['xs', xs], ['ys', ys]], 2, true);
  const n = xs.length;
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (lx[i] - mx) ** 2;
    sxy += (lx[i] - mx) * (ly[i] - my);
    syy += (ly[i] - my) ** 2;
  }
  if (sxx === 0) throw new BenchValueError('xs', `only the value ${xs[0]}`, 'at least two distinct values to fit a slope');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) ssRes += (ly[i] - intercept - slope * lx[i]) ** 2;
  // All y equal: a flat line fits them exactly.
  const r2 = syy === 0 ? 1 : 1 - ssRes / syy;
  return { slope, intercept, coefficient: Math.exp(intercept), r2 };
}

/**
 * The first x where curve A (xs, ysA) and curve B (xs, ysB) meet, each drawn as straight
 * segments between its points on log-log axes (the way scaling plots are read): the crossing
 * inside a segment is interpolated in log space; a shared point is returned as is. Null when
 * one curve stays strictly above the other over the whole range (no extrapolation). xs must be
 * strictly increasing; every value positive.
 */
export function crossover(xs: readonly number[], ysA: readonly number[], ysB: readonly number[]): number | null {
  checkSeries([['xs', xs], ['ysA', ysA], ['ysB', ysB]], 1, true);
  for (let i = 1; i < xs.length; i++) {
    if (!(xs[i] > xs[i - 1])) throw new BenchValueError(`xs[${i}]`, `${xs[i]} ≤ xs[${i - 1}] = ${xs[i - 1]}`, 'strictly increasing xs (sort the points by x)');
  }
  const gap = (i: number) => Math.log(ysA[i]) - Math.log(ysB[i]);
  if (gap(0) === 0) return xs[0];
  for (let i = 0; i + 1 < xs.length; i++) {
    const g0 = gap(i);
    const g1 = gap(i + 1);
    if (g1 === 0) return xs[i + 1];
    if (Math.sign(g0) !== Math.sign(g1)) {
      const t = g0 / (g0 - g1);
      const lx0 = Math.log(xs[i]);
      return Math.exp(lx0 + t * (Math.log(xs[i + 1]) - lx0));
    }
  }
  return null;
}

function sorted(name: string, values: readonly number[]): number[] {
  checkSeries([[name, values]], 1, false);
  return [...values].sort((a, b) => a - b);
}

/** Quantile q ∈ [0, 1] of sorted values, interpolating linearly between order statistics. */
function quantile(s: readonly number[], q: number): number {
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/** The median of repeated measurements (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  return quantile(sorted('values', values), 0.5);
}

/** How spread out repeated measurements are. */
export interface Spread {
  min: number;
  max: number;
  median: number;
  /** First and third quartiles, interpolated linearly between order statistics. */
  q1: number;
  q3: number;
  /** q3 − q1. */
  iqr: number;
  /** Median absolute deviation from the median (unscaled: not multiplied by 1.4826). */
  mad: number;
}

/** Min, max, quartiles, IQR and MAD of repeated measurements; robust to one slow outlier. */
export function spread(values: readonly number[]): Spread {
  const s = sorted('values', values);
  const med = quantile(s, 0.5);
  const q1 = quantile(s, 0.25);
  const q3 = quantile(s, 0.75);
  const deviations = s.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  return { min: s[0], max: s[s.length - 1], median: med, q1, q3, iqr: q3 - q1, mad: quantile(deviations, 0.5) };
}
