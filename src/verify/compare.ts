/**
 * Comparing a computed array with the reference: how far off, where, and does it pass.
 */
import { AttentionError } from '../core/errors';
import { RESULT_NAMES, type AttentionResult, type AttentionShape, type ResultName } from '../core/types';
import { resolveShape } from '../core/types';

/** Pass rule: |actual − expected| ≤ atol + rtol·|expected| for every element. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** How one array compares with its reference. */
export interface Comparison {
  length: number;
  /** Largest |actual − expected| (Infinity if one is non-finite where the other is not). */
  maxAbsErr: number;
  /** Largest |actual − expected| / |expected| over elements with |expected| ≥ 1e-6·max|expected|. */
  maxRelErr: number;
  /** Index of the element that breaks the tolerance the most (or has the largest abs error). */
  worstIndex: number;
  worstActual: number;
  worstExpected: number;
  /** Largest |expected|, for putting the errors in scale. */
  maxAbsExpected: number;
  /** Elements outside the tolerance. */
  failures: number;
  tolerance: Tolerance;
  pass: boolean;
}

/**
 * Compare element by element. Equal infinities (the −∞ of masked scores) count as exact;
 * NaN, or an infinity where the reference is finite, is an infinite error.
 */
export function compareArrays(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
): Comparison {
  if (actual.length !== expected.length) {
    throw new AttentionError(`compareArrays: actual has length ${actual.length}, expected ${expected.length}; compare arrays of the same tensor and shape.`);
  }
  let maxAbsExpected = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(expected[i]);
    if (Number.isFinite(e) && e > maxAbsExpected) maxAbsExpected = e;
  }
  const relFloor = 1e-6 * maxAbsExpected;
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worstIndex = -1;
  let worstExcess = -Infinity;
  let failures = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = a === e ? 0 : Math.abs(a - e);
    const errOrInf = Number.isNaN(err) ? Infinity : err;
    const allowed = tolerance.atol + tolerance.rtol * (Number.isFinite(e) ? Math.abs(e) : 0);
    const excess = errOrInf - allowed;
    if (excess > 0) failures++;
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
    }
    if (errOrInf > maxAbsErr) maxAbsErr = errOrInf;
    const absE = Math.abs(e);
    if (absE >= relFloor && absE > 0 && Number.isFinite(absE)) {
      const rel = errOrInf / absE;
      if (rel > maxRelErr) maxRelErr = rel;
    }
  }
  return {
    length: expected.length,
    maxAbsErr,
    maxRelErr,
    worstIndex,
    worstActual: worstIndex >= 0 ? actual[worstIndex] : NaN,
    worstExpected: worstIndex >= 0 ? expected[worstIndex] : NaN,
    maxAbsExpected,
    failures,
    tolerance,
    pass: failures === 0,
  };
}

/** Largest |Σⱼ weights[row, j] − 1| over all heads·seqLen rows (each row has kvLen entries). */
export function maxRowSumError(weights: ArrayLike<number>, kvLen: number): { maxErr: number; worstRow: number } {
  let maxErr = 0;
  let worstRow = 0;
  const rows = weights.length / kvLen;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < kvLen; j++) sum += weights[r * kvLen + j];
    const err = Number.isNaN(sum) ? Infinity : Math.abs(sum - 1);
    if (err > maxErr) {
      maxErr = err;
      worstRow = r;
    }
  }
  return { maxErr, worstRow };
}

/**
 * Default tolerances per stage for Float32 GPU results against the Float64 reference.
 *
 * A Float32 dot product of length n carries a relative error of about √n·2⁻²⁴ of the sum of
 * |terms|; the atol scales with the largest reference value of the stage and the length of the
 * sums that produced it, with a 16× margin for accumulation order and exp/sqrt rounding.
 * Weights are probabilities: their error is absolute.
 */
export function defaultTolerances(shape: AttentionShape, maxAbs: Partial<Record<ResultName, number>>): Record<ResultName, Tolerance> {
  const s = resolveShape(shape);
  const eps = 2 ** -24;
  const margin = 16;
  const proj = margin * eps * Math.sqrt(s.dModel) * 4;
  const scoreSum = margin * eps * Math.sqrt(s.dHead) * 8;
  const mix = margin * eps * Math.sqrt(s.kvLen) * 8;
  const scaled = (name: ResultName, factor: number): Tolerance => ({
    atol: factor * Math.max(1, maxAbs[name] ?? 1),
    rtol: 1e-5,
  });
  return {
    q: scaled('q', proj),
    k: scaled('k', proj),
    v: scaled('v', proj),
    scores: { atol: (scoreSum + proj) * Math.max(1, maxAbs.scores ?? 1), rtol: 1e-5 },
    weights: { atol: 2e-6 + 4 * (scoreSum + proj) * Math.max(1, maxAbs.scores ?? 1) * 0.25, rtol: 1e-4 },
    output: { atol: (mix + proj) * Math.max(1, maxAbs.output ?? 1) + 1e-6, rtol: 1e-4 },
  };
}

/** One stage's verdict in a verification report. */
export interface StageReport extends Comparison {
  name: ResultName;
}

/** How a GPU (or any other) result compares with the reference, per array. */
export interface VerificationReport {
  stages: StageReport[];
  /** Largest |row sum − 1| of the weights, and its row (heads·seqLen rows). */
  rowSum: { maxErr: number; worstRow: number; tolerance: number; pass: boolean };
  pass: boolean;
}

/**
 * Verify every array present in both `actual` and `expected` (the CPU reference), with the
 * default tolerances unless others are given. Works on whole results and on sampled rows
 * (`attentionCpuRows` / `GpuAttention.readRows`), whose maps are heads × rows × kvLen.
 */
export function verifyAttention(
  shape: AttentionShape,
  actual: Partial<AttentionResult>,
  expected: Partial<AttentionResult>,
  tolerances?: Partial<Record<ResultName, Tolerance>>,
): VerificationReport {
  const s = resolveShape(shape);
  const maxAbs: Partial<Record<ResultName, number>> = {};
  for (const name of RESULT_NAMES) {
    let m = 0;
    for (const value of expected[name] ?? []) if (Number.isFinite(value) && Math.abs(value) > m) m = Math.abs(value);
    maxAbs[name] = m;
  }
  const defaults = defaultTolerances(shape, maxAbs);
  const stages: StageReport[] = [];
  for (const name of RESULT_NAMES) {
    const values = actual[name];
    const reference = expected[name];
    if (!values || !reference) continue;
    stages.push({ name, ...compareArrays(values, reference, tolerances?.[name] ?? defaults[name]) });
  }
  const rowTolerance = 1e-5;
  const rowSum = actual.weights
    ? { ...maxRowSumError(actual.weights, s.kvLen), tolerance: rowTolerance, pass: false }
    : { maxErr: 0, worstRow: 0, tolerance: rowTolerance, pass: true };
  if (actual.weights) rowSum.pass = rowSum.maxErr <= rowTolerance;
  return { stages, rowSum, pass: stages.every((st) => st.pass) && rowSum.pass };
}
