/**
 * The CPU reference: attention exactly as the formulas say, accumulated in Float64 and rounded
 * to Float32 only when stored. It is the source of truth every GPU result is checked against,
 * so it favours obviousness over speed. Runs in Node and in the browser (no DOM, no WebGPU).
 */
import { AttentionInputError } from '../core/errors';
import { validateAttention } from '../core/validate';
import type { AttentionInputs, AttentionResult, AttentionShape, ResolvedShape } from '../core/types';

/** C (rows × cols, f64) = A (rows × inner) · B (inner × cols), all row-major. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, inner: number, cols: number): Float64Array {
  const c = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const cRow = i * cols;
    for (let k = 0; k < inner; k++) {
      const aik = a[i * inner + k];
      if (aik === 0) continue;
      const bRow = k * cols;
      for (let j = 0; j < cols; j++) c[cRow + j] += aik * b[bRow + j];
    }
  }
  return c;
}

/**
 * Softmax of one row in place, stable: subtract the row maximum before exponentiating.
 * Entries equal to −Infinity (masked) get weight 0. A row with no finite entry (fully masked)
 * becomes all zeros rather than NaN: there is nothing to attend to.
 */
export function softmaxRowInPlace(row: Float64Array | Float32Array, start = 0, end = row.length): void {
  let max = -Infinity;
  for (let j = start; j < end; j++) if (row[j] > max) max = row[j];
  if (max === -Infinity) {
    row.fill(0, start, end);
    return;
  }
  let sum = 0;
  for (let j = start; j < end; j++) {
    const e = row[j] === -Infinity ? 0 : Math.exp(row[j] - max);
    row[j] = e;
    sum += e;
  }
  for (let j = start; j < end; j++) row[j] /= sum;
}

/** Every intermediate in Float64, for callers that want more than the Float32 result. */
export interface AttentionResult64 {
  shape: ResolvedShape;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  scores: Float64Array;
  weights: Float64Array;
  output: Float64Array;
}

/**
 * Attention in Float64 on a shape that has already been validated. Exposed for the verifier
 * and the lessons, which want unrounded numbers.
 */
export function attentionCpu64(shape: ResolvedShape, inputs: AttentionInputs): AttentionResult64 {
  const { seqLen, kvLen, dModel, heads, dHead, causal, width } = shape;
  const xKV = inputs.xKV ?? inputs.x;
  const q = matmul(inputs.x, inputs.wq, seqLen, dModel, width);
  const k = matmul(xKV, inputs.wk, kvLen, dModel, width);
  const v = matmul(xKV, inputs.wv, kvLen, dModel, width);

  const scale = 1 / Math.sqrt(dHead);
  const mapSize = seqLen * kvLen;
  const scores = new Float64Array(heads * mapSize);
  const weights = new Float64Array(heads * mapSize);
  const output = new Float64Array(seqLen * width);

  for (let h = 0; h < heads; h++) {
    const col = h * dHead;
    for (let i = 0; i < seqLen; i++) {
      const rowStart = h * mapSize + i * kvLen;
      for (let j = 0; j < kvLen; j++) {
        if (causal && j > i) {
          scores[rowStart + j] = -Infinity;
          continue;
        }
        let dot = 0;
        for (let d = 0; d < dHead; d++) dot += q[i * width + col + d] * k[j * width + col + d];
        scores[rowStart + j] = dot * scale;
      }
      weights.set(scores.subarray(rowStart, rowStart + kvLen), rowStart);
      softmaxRowInPlace(weights, rowStart, rowStart + kvLen);
      for (let j = 0; j < kvLen; j++) {
        const p = weights[rowStart + j];
        if (p === 0) continue;
        for (let d = 0; d < dHead; d++) output[i * width + col + d] += p * v[j * width + col + d];
      }
    }
  }
  return { shape, q, k, v, scores, weights, output };
}

/**
 * Attention on the CPU, the reference every GPU result is checked against.
 *
 * Validates like the GPU path (same typed {@link AttentionInputError}s), computes in Float64
 * and returns Float32 arrays in the layouts documented in `core/types.ts`.
 */
export function attentionCpu(shape: AttentionShape, inputs: AttentionInputs): AttentionResult {
  const resolved = validateAttention(shape, inputs);
  const r = attentionCpu64(resolved, inputs);
  return {
    q: Float32Array.from(r.q),
    k: Float32Array.from(r.k),
    v: Float32Array.from(r.v),
    scores: Float32Array.from(r.scores),
    weights: Float32Array.from(r.weights),
    output: Float32Array.from(r.output),
  };
}

/** Scores, weights and output of a few query rows: `scores`/`weights` are heads × rows × kvLen, `output` rows × width. */
export interface AttentionRows {
  rows: number[];
  scores: Float32Array;
  weights: Float32Array;
  output: Float32Array;
}

/**
 * The reference for selected query rows only: projections in full (they are O(n·d²)), then
 * scores, softmax and output for the given rows. Lets a map far too large for the full f64
 * reference still be checked, on sampled rows.
 */
export function attentionCpuRows(shape: AttentionShape, inputs: AttentionInputs, rows: readonly number[]): AttentionRows {
  const s = validateAttention(shape, inputs, { storesMap: false });
  const { seqLen, kvLen, dModel, heads, dHead, causal, width } = s;
  for (const row of rows) {
    if (!Number.isInteger(row) || row < 0 || row >= seqLen) {
      throw new AttentionInputError('rows', `row ${row} (attentionCpuRows)`, `integers from 0 to ${seqLen - 1}`, 'shape');
    }
  }
  const xKV = inputs.xKV ?? inputs.x;
  const k = matmul(xKV, inputs.wk, kvLen, dModel, width);
  const v = matmul(xKV, inputs.wv, kvLen, dModel, width);
  const scale = 1 / Math.sqrt(dHead);
  const scores = new Float32Array(heads * rows.length * kvLen);
  const weights = new Float32Array(heads * rows.length * kvLen);
  const output = new Float32Array(rows.length * width);
  const rowScores = new Float64Array(kvLen);
  rows.forEach((i, r) => {
    const q = matmul(inputs.x.subarray(i * dModel, (i + 1) * dModel), inputs.wq, 1, dModel, width);
    for (let h = 0; h < heads; h++) {
      const col = h * dHead;
      for (let j = 0; j < kvLen; j++) {
        if (causal && j > i) {
          rowScores[j] = -Infinity;
          continue;
        }
        let dot = 0;
        for (let d = 0; d < dHead; d++) dot += q[col + d] * k[j * width + col + d];
        rowScores[j] = dot * scale;
      }
      const at = (h * rows.length + r) * kvLen;
      scores.set(rowScores, at);
      softmaxRowInPlace(rowScores);
      weights.set(rowScores, at);
      for (let d = 0; d < dHead; d++) {
        let sum = 0;
        for (let j = 0; j < kvLen; j++) sum += rowScores[j] * v[j * width + col + d];
        output[r * width + col + d] = sum;
      }
    }
  });
  return { rows: [...rows], scores, weights, output };
}

/** `count` query rows spread over 0 … seqLen − 1, always including the first and the last. */
export function sampleRows(seqLen: number, count: number): number[] {
  if (count >= seqLen) return Array.from({ length: seqLen }, (_, i) => i);
  const rows = new Set<number>([0, seqLen - 1]);
  for (let t = 1; rows.size < count; t++) rows.add(Math.round((t * (seqLen - 1)) / count) % seqLen);
  return [...rows].sort((a, b) => a - b);
}
