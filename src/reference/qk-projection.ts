/**
 * Queries and keys of one head in one 3D space: the CPU reference (f64) of
 * shaders/qk-projection.wgsl. Pure TypeScript (runs in Node).
 *
 * AttentionViz's normalisation, then a joint PCA:
 * - d ≤ 3: nothing is changed: the points are the raw vectors (zero-padded to 3 coordinates),
 *   the axes the standard basis, share 1 (the "cat sat" lesson's numbers stay its numbers).
 * - d > 3: (a) keys are translated so the two centroids meet, c = mean(q) − mean(k),
 *   k' = k + c: every score of query i gains q_i·c, the same for the whole row, so the softmax
 *   weights do not change; (b) queries are scaled by a and keys by 1/a with
 *   a = √(meanNorm(k') / meanNorm(q)): every dot product is unchanged and both clouds get the
 *   same mean norm; (c) the n + m normalised points are centred on their joint mean μ and their
 *   covariance's top-3 eigenvectors are the axes; (d) each point's coordinates are
 *   (x − μ)·e_a. Values, when given, are not part of the fit: the RAW v_j, centred on their own
 *   mean, projected on the same axes.
 *
 * Sign convention (so the CPU and the GPU agree): each axis is flipped so that its component
 * of largest magnitude is positive (ties: the lowest index).
 *
 * A spread below what f32 resolves ({@link QK_FLAT_SPREAD}: trace(C) ≤ 1e-10 · mean ‖x‖², e.g.
 * one query and one key, which the translation makes equal) counts as none: axes the standard
 * basis, variance and totalVariance 0, share 1.
 */
import { AttentionInputError } from '../core/errors';

/** The exact-for-the-weights normalisation of one head: k' = k + shift, q'' = scale·q, k'' = k'/scale. */
export interface QkNormalisation {
  /** c = mean(q) − mean(k) (length d), added to every key. */
  shift: Float64Array;
  /** a = √(meanNorm(k') / meanNorm(q)) (1 when either mean norm is 0). */
  scale: number;
}

/** One head's queries, keys (and values) in 3D, and the fit that put them there. */
export interface QkProjection {
  dHead: number;
  /** Counts of points per cloud (values: 0 when none were given, else the key count). */
  queries: number;
  keys: number;
  values: number;
  /** True when d ≤ 3: no normalisation, no projection. */
  raw: boolean;
  /** Raw: shift zeros, scale 1. */
  normalisation: QkNormalisation;
  /** μ, the joint mean of the normalised queries and keys (length d; zeros when raw). */
  mean: Float64Array;
  /** 3 × d row-major: axes[a·d + i]; raw: the standard basis (rows past d are zero). */
  axes: Float64Array;
  /** λ1, λ2, λ3 (raw: the variances of the raw coordinates about the joint mean of q and k; 0 past d). */
  variance: Float64Array;
  /** trace(C). */
  totalVariance: number;
  /** (λ1 + λ2 + λ3) / trace(C); 1 when raw or when the trace is 0. */
  share: number;
  /** (queries + keys + values) × 3: queries first, then keys, then values. */
  points: Float64Array;
}

/** Relative spread below which the cloud counts as one point (f32 cannot resolve it): trace(C) ≤ this · mean ‖x‖². */
export const QK_FLAT_SPREAD = 1e-10;

function checkCount(field: string, value: number, allowed = 'an integer ≥ 1'): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new AttentionInputError(field, String(value), `${allowed}; pass the number of rows`, 'shape');
  }
}

function checkArray(field: string, array: ArrayLike<number>, rows: number, d: number): void {
  if (array === null || typeof array !== 'object' || typeof array.length !== 'number') {
    throw new AttentionInputError(field, String(array), `an array of ${rows} × ${d} numbers`, 'type');
  }
  if (array.length !== rows * d) {
    throw new AttentionInputError(field, `length ${array.length}`, `length ${rows} × ${d} = ${rows * d} (rows × dHead, row-major)`, 'length');
  }
  for (let i = 0; i < array.length; i++) {
    const x = array[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new AttentionInputError(`${field}[${i}]`, String(x), 'a finite number: fix the vector before projecting it', 'non-finite');
    }
  }
}

function meanRows(x: ArrayLike<number>, rows: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) mean[i] += x[r * d + i];
  for (let i = 0; i < d; i++) mean[i] /= rows;
  return mean;
}

/** Mean Euclidean norm of the rows of x, each row shifted by `shift` (when given). */
function meanNorm(x: ArrayLike<number>, rows: number, d: number, shift?: Float64Array): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const value = x[r * d + i] + (shift ? shift[i] : 0);
      sq += value * value;
    }
    total += Math.sqrt(sq);
  }
  return total / rows;
}

/**
 * AttentionViz's normalisation of n queries and m keys of dimension d (row-major): the shift
 * c = mean(q) − mean(k) added to every key, and the scale a = √(meanNorm(k + c) / meanNorm(q))
 * (1 when either mean norm is 0). Both leave the softmax weights exactly as they were.
 */
export function qkNormalisation(q: ArrayLike<number>, k: ArrayLike<number>, n: number, m: number, d: number): QkNormalisation {
  checkCount('queries', n);
  checkCount('keys', m);
  checkCount('dHead', d);
  checkArray('q', q, n, d);
  checkArray('k', k, m, d);
  const meanQ = meanRows(q, n, d);
  const meanK = meanRows(k, m, d);
  const shift = meanQ.map((value, i) => value - meanK[i]);
  const normQ = meanNorm(q, n, d);
  const normK = meanNorm(k, m, d, shift);
  const scale = normQ > 0 && normK > 0 ? Math.sqrt(normK / normQ) : 1;
  return { shift, scale };
}

/** Flip each of `count` vectors (rows of `vectors`, length d) so its largest-magnitude component is positive (ties: lowest index). */
function applySignConvention(vectors: Float64Array, count: number, d: number): void {
  for (let j = 0; j < count; j++) {
    let best = 0;
    for (let i = 1; i < d; i++) if (Math.abs(vectors[j * d + i]) > Math.abs(vectors[j * d + best])) best = i;
    if (vectors[j * d + best] < 0) for (let i = 0; i < d; i++) vectors[j * d + i] = -vectors[j * d + i] + 0;
  }
}

/**
 * Eigen-decomposition of a symmetric d × d matrix (row-major; the mean of it and its transpose
 * is used) by the cyclic Jacobi method in f64. `values` descending (ties keep index order);
 * `vectors[j·d + i]` is component i of eigenvector j, unit length, sign convention applied.
 */
export function symmetricEigen(matrix: ArrayLike<number>, d: number): { values: Float64Array; vectors: Float64Array } {
  checkCount('d', d);
  checkArray('matrix', matrix, d, d);
  const a = new Float64Array(d * d);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) a[r * d + c] = 0.5 * (matrix[r * d + c] + matrix[c * d + r]);
  // v's columns become the eigenvectors.
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let frobenius = 0;
  for (const x of a) frobenius += x * x;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += 2 * a[p * d + q] * a[p * d + q];
    if (off === 0 || off <= 1e-30 * frobenius) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        // The rotation that zeroes a_pq (Rutishauser's stable form: the smaller angle).
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          if (k === p || k === q) continue;
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = a[p * d + k] = c * akp - s * akq;
          a[k * d + q] = a[q * d + k] = s * akp + c * akq;
        }
        a[p * d + p] -= t * apq;
        a[q * d + q] += t * apq;
        a[p * d + q] = a[q * d + p] = 0;
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => a[y * d + y] - a[x * d + x] || x - y);
  const values = Float64Array.from(order, (i) => a[i * d + i]);
  const vectors = new Float64Array(d * d);
  order.forEach((column, j) => {
    for (let i = 0; i < d; i++) vectors[j * d + i] = v[i * d + column];
  });
  applySignConvention(vectors, d, d);
  return { values, vectors };
}

/** The joint mean and covariance (1/N) of the rows of `points` (N × d). */
function covariance(points: Float64Array, count: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = meanRows(points, count, d);
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < d; i++) centred[i] = points[r * d + i] - mean[i];
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) cov[i * d + j] += centred[i] * centred[j];
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      cov[i * d + j] /= count;
      cov[j * d + i] = cov[i * d + j];
    }
  }
  return { mean, cov };
}

/** Project `rows` × d vectors (minus `centre`) onto the 3 axes into `out` from point `first`. */
function projectRows(out: Float64Array, first: number, x: ArrayLike<number>, rows: number, d: number, centre: Float64Array, axes: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    for (let axis = 0; axis < 3; axis++) {
      let sum = 0;
      for (let i = 0; i < d; i++) sum += (x[r * d + i] - centre[i]) * axes[axis * d + i];
      out[(first + r) * 3 + axis] = sum;
    }
  }
}

function standardBasis(d: number): Float64Array {
  const axes = new Float64Array(3 * d);
  for (let axis = 0; axis < Math.min(3, d); axis++) axes[axis * d + axis] = 1;
  return axes;
}

/**
 * One head's queries and keys (and values) in 3D: raw when d ≤ 3, else AttentionViz's
 * normalisation and the joint PCA of the normalised queries and keys (see the module comment).
 * q is queries × dHead, k and v keys × dHead, row-major. Values are not part of the fit: the
 * raw v_j, centred on their own mean, are projected on the axes the queries and keys gave.
 */
export function projectQkReference(input: { q: ArrayLike<number>; k: ArrayLike<number>; v?: ArrayLike<number>; queries: number; keys: number; dHead: number }): QkProjection {
  const { q, k, v, queries: n, keys: m, dHead: d } = input;
  checkCount('queries', n);
  checkCount('keys', m);
  checkCount('dHead', d);
  checkArray('q', q, n, d);
  checkArray('k', k, m, d);
  if (v !== undefined) checkArray('v', v, m, d);
  const values = v === undefined ? 0 : m;
  const total = n + m;
  const raw = d <= 3;
  const normalisation = raw ? { shift: new Float64Array(d), scale: 1 } : qkNormalisation(q, k, n, m, d);
  const { shift, scale } = normalisation;
  const fit = new Float64Array(total * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) fit[r * d + i] = q[r * d + i] * scale;
  for (let r = 0; r < m; r++) for (let i = 0; i < d; i++) fit[(n + r) * d + i] = (k[r * d + i] + shift[i]) / scale;
  const { mean: jointMean, cov } = covariance(fit, total, d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cov[i * d + i];
  const points = new Float64Array((total + values) * 3);

  if (raw) {
    const axes = standardBasis(d);
    const variance = Float64Array.from({ length: 3 }, (_, axis) => (axis < d ? cov[axis * d + axis] : 0));
    const zero = new Float64Array(d);
    projectRows(points, 0, q, n, d, zero, axes);
    projectRows(points, n, k, m, d, zero, axes);
    if (v !== undefined) projectRows(points, total, v, m, d, zero, axes);
    return { dHead: d, queries: n, keys: m, values, raw, normalisation, mean: zero, axes, variance, totalVariance: trace, share: 1, points };
  }

  let meanSquare = trace;
  for (const x of jointMean) meanSquare += x * x;
  const flat = trace <= QK_FLAT_SPREAD * meanSquare;
  let axes: Float64Array;
  let variance: Float64Array;
  if (flat) {
    axes = standardBasis(d);
    variance = new Float64Array(3);
    trace = 0;
  } else {
    const eigen = symmetricEigen(cov, d);
    axes = eigen.vectors.slice(0, 3 * d);
    variance = Float64Array.from(eigen.values.subarray(0, 3), (x) => Math.max(x, 0));
  }
  const share = trace > 0 ? Math.min(1, (variance[0] + variance[1] + variance[2]) / trace) : 1;
  projectRows(points, 0, fit, total, d, jointMean, axes);
  if (v !== undefined) projectRows(points, total, v, m, d, meanRows(v, m, d), axes);
  return { dHead: d, queries: n, keys: m, values, raw, normalisation, mean: jointMean, axes, variance, totalVariance: trace, share, points };
}
