/**
 * A fast CPU attention, for honest CPU-vs-GPU timing. The f64 reference in `src/reference` is
 * the source of truth and deliberately plain; this path computes the same thing with the
 * loop structure a tuned CPU kernel would use, so "the GPU is N× faster" compares against a
 * CPU that tried.
 *
 * Same semantics and layouts as `attentionCpu` (see `core/types.ts`): −Infinity for masked
 * scores, weight 0 there, a fully masked row gives all-zero weights and output.
 *
 * Accuracy: every array is a Float32Array, so each value is rounded to f32 once when stored
 * (q, k, v, scores, output once; weights twice: the exponential, then the normalised value).
 * Products and sums held in locals are JavaScript doubles, so the dot products themselves
 * carry no f32 accumulation error; what differs from the f64 reference is that scores are
 * computed from the f32-rounded q and k, and the output from f32-rounded weights and v. In
 * practice: q, k, v within 1 ulp; scores within ~2⁻²²·Σ|q·k|/√dHead; weights and output within
 * a few 1e-7 absolute for inputs of order 1 (test/unit/fast-attention.test.ts states the bounds).
 *
 * Why these loops (V8 and SpiderMonkey JIT typed-array loops to scalar machine code; there is
 * no SIMD, so the wins are memory locality and fewer loads per multiply-add):
 * - Every matrix product is written as C = A·Bᵀ with both operands' rows contiguous: scores
 *   are q_i·k_j, where a head's slice of a k row is already dHead contiguous floats, so K needs
 *   no transposition; the projection weights are transposed once (dModel·width copies) so
 *   that q/k/v columns become contiguous rows too.
 * - A 4×2 register tile: four rows of A against two rows of B give eight independent
 *   accumulators (no loop-carried dependency on one sum) and 6 loads per 8 multiply-adds
 *   instead of 16.
 * - Blocked over B rows (keys, or weight columns) so a block of B stays in L1 while every
 *   query row of the block streams past it; under a causal mask a row stops at j ≤ i.
 * - P·V uses the same kernel on each head's Vᵀ (dHead × kvLen, built once per head), so an
 *   output entry is a row of weights dotted with a row of Vᵀ, and under a causal mask the dot
 *   stops at j ≤ i. This measured ~1.7× faster in V8 than the j-outer/d-inner loop over v rows
 *   (which needs a load and a store of the accumulator row per multiply-add group).
 */
import { AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionResult, AttentionShape, ResolvedShape, StageTimings } from '../core/types';
import { validateAttention } from '../core/validate';

/** Options of {@link attentionCpuFast}. */
export interface FastAttentionOptions {
  /**
   * Compute only query rows `start ≤ i < end` (0 ≤ start < end ≤ seqLen), so the work can be
   * split across workers. q, scores, weights and output are left 0 outside those rows (0, not
   * −Infinity, in the scores: those rows were not computed); k and v are always complete
   * because every row needs them.
   */
  rows?: readonly [start: number, end: number];
  /**
   * Read the clock around each stage (default true). When false the clock is not read and
   * every timing is NaN.
   */
  timings?: boolean;
}

/** Milliseconds per stage, from `performance.now()`; `total` also covers validation and allocation. */
export type FastTimings = StageTimings & { source: 'wall-clock' };

/** An {@link AttentionResult} with the stage timings of the run that produced it. */
export type FastAttentionResult = AttentionResult & { timings: FastTimings };

/**
 * The rows `start ≤ i < end` of a run in compact arrays: `q` and `output` are
 * (end − start) × width, `scores` and `weights` heads × (end − start) × kvLen; `k` and `v` are
 * complete. This is what a worker sends back, so no worker ships a mostly-zero full-size map.
 */
export interface FastAttentionBlock extends AttentionResult {
  start: number;
  end: number;
  timings: FastTimings;
}

/** Keys (or weight columns) per block: a block of B rows should take about 16 KiB, half of a typical L1d. */
function blockRows(rowLength: number): number {
  const rows = Math.floor(4096 / Math.max(1, rowLength));
  return Math.max(4, rows - (rows % 4));
}

/**
 * C[r, j] = scale · Σ_{d < depth} A[r, d] · B[j, d] for r < m, j < n. Offsets and strides let
 * the same kernel read one head's columns out of q and k, or one head's map out of weights.
 *
 * Causal limits (−1 = none): with `colFrom` ≥ 0, row r is global row colFrom + r and needs only
 * j ≤ that row; with `depthFrom` ≥ 0 it needs only d ≤ that row (A is zero beyond). Rows go in
 * tiles of 4 that share their last row's limit, so a few entries past a row's own limit are
 * computed too: the caller overwrites those (scores → −Infinity) or they are exact zeros
 * (masked weights times finite v).
 *
 * The 4×2 register tile (four A rows against two B rows) keeps eight independent accumulators
 * and needs 6 loads per 8 multiply-adds; it measured fastest of 1×4, 2×4 and 4×2 in V8.
 */
function gemmNT(
  a: Float32Array, aOff: number, aStride: number,
  b: Float32Array, bOff: number, bStride: number,
  c: Float32Array, cOff: number, cStride: number,
  m: number, n: number, depth: number, scale: number, colFrom: number, depthFrom: number,
): void {
  // Few B rows (P·V: n = dHead): all of them, so every A row (a row of weights) is read once.
  // Otherwise a block of B rows that fits L1 while all of A streams past it.
  const block = n <= 64 ? n : blockRows(depth);
  for (let j0 = 0; j0 < n; j0 += block) {
    const jBlockEnd = Math.min(n, j0 + block);
    // Under a column mask, rows before j0 need nothing from this block.
    for (let r = colFrom < 0 ? 0 : Math.max(0, j0 - colFrom); r < m; r += 4) {
      const last = Math.min(m, r + 4) - 1;
      const jEnd = colFrom < 0 ? jBlockEnd : Math.min(jBlockEnd, colFrom + last + 1);
      const dEnd = depthFrom < 0 ? depth : Math.min(depth, depthFrom + last + 1);
      if (last - r === 3) {
        const a0 = aOff + r * aStride;
        const a1 = a0 + aStride;
        const a2 = a1 + aStride;
        const a3 = a2 + aStride;
        const c0 = cOff + r * cStride;
        const c1 = c0 + cStride;
        const c2 = c1 + cStride;
        const c3 = c2 + cStride;
        let j = j0;
        for (; j + 2 <= jEnd; j += 2) {
          const b0 = bOff + j * bStride;
          const b1 = b0 + bStride;
          let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
          for (let d = 0; d < dEnd; d++) {
            const k0 = b[b0 + d];
            const k1 = b[b1 + d];
            const x0 = a[a0 + d];
            const x1 = a[a1 + d];
            const x2 = a[a2 + d];
            const x3 = a[a3 + d];
            s00 += x0 * k0; s01 += x0 * k1;
            s10 += x1 * k0; s11 += x1 * k1;
            s20 += x2 * k0; s21 += x2 * k1;
            s30 += x3 * k0; s31 += x3 * k1;
          }
          c[c0 + j] = s00 * scale; c[c0 + j + 1] = s01 * scale;
          c[c1 + j] = s10 * scale; c[c1 + j + 1] = s11 * scale;
          c[c2 + j] = s20 * scale; c[c2 + j + 1] = s21 * scale;
          c[c3 + j] = s30 * scale; c[c3 + j + 1] = s31 * scale;
        }
        if (j < jEnd) {
          const b0 = bOff + j * bStride;
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (let d = 0; d < dEnd; d++) {
            const k0 = b[b0 + d];
            s0 += a[a0 + d] * k0;
            s1 += a[a1 + d] * k0;
            s2 += a[a2 + d] * k0;
            s3 += a[a3 + d] * k0;
          }
          c[c0 + j] = s0 * scale;
          c[c1 + j] = s1 * scale;
          c[c2 + j] = s2 * scale;
          c[c3 + j] = s3 * scale;
        }
      } else {
        // The last 1–3 rows, one at a time. Each sum runs over d in the same order as in the
        // tile above, so a row's result does not depend on which path computed it: a run split
        // by `rows` (or across workers) is bit-identical to the whole run.
        for (let rr = r; rr <= last; rr++) {
          const ai = aOff + rr * aStride;
          const ci = cOff + rr * cStride;
          let j = j0;
          for (; j + 2 <= jEnd; j += 2) {
            const b0 = bOff + j * bStride;
            const b1 = b0 + bStride;
            let s0 = 0;
            let s1 = 0;
            for (let d = 0; d < dEnd; d++) {
              const x = a[ai + d];
              s0 += x * b[b0 + d];
              s1 += x * b[b1 + d];
            }
            c[ci + j] = s0 * scale;
            c[ci + j + 1] = s1 * scale;
          }
          if (j < jEnd) {
            const bj = bOff + j * bStride;
            let s0 = 0;
            for (let d = 0; d < dEnd; d++) s0 += a[ai + d] * b[bj + d];
            c[ci + j] = s0 * scale;
          }
        }
      }
    }
  }
}

/** Wᵀ: width × dModel, so that column c of W (the weights of output feature c) is a contiguous row. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/**
 * Stable softmax of s[from … from + count), written to w; count = 0 (every key masked) gives
 * nothing to write, which leaves the zeros of a fresh array.
 */
function softmaxRow(s: Float32Array, w: Float32Array, from: number, count: number): void {
  const end = from + count;
  let max = -Infinity;
  for (let j = from; j < end; j++) if (s[j] > max) max = s[j];
  if (max === -Infinity) return;
  let sum = 0;
  for (let j = from; j < end; j++) {
    const e = Math.exp(s[j] - max);
    w[j] = e;
    sum += e;
  }
  // One division, then multiplies: ≤ 1 ulp more error than dividing each entry.
  const inv = 1 / sum;
  for (let j = from; j < end; j++) w[j] *= inv;
}

function checkRows(rows: readonly [number, number] | undefined, seqLen: number): [number, number] {
  if (rows === undefined) return [0, seqLen];
  const ok =
    Array.isArray(rows) &&
    rows.length === 2 &&
    Number.isInteger(rows[0]) &&
    Number.isInteger(rows[1]) &&
    rows[0] >= 0 &&
    rows[0] < rows[1] &&
    rows[1] <= seqLen;
  if (!ok) {
    const given = Array.isArray(rows) ? `[${rows.join(', ')}]` : String(rows);
    throw new AttentionInputError('rows', given, `[start, end) with 0 ≤ start < end ≤ seqLen (${seqLen})`, 'shape');
  }
  return [rows[0], rows[1]];
}

const now = (): number => performance.now();

/** The whole computation for rows [start, end); `compact` picks the block layout of {@link FastAttentionBlock}. */
function compute(
  s: ResolvedShape, inputs: AttentionInputs, start: number, end: number, compact: boolean, timed: boolean, t0: number,
): FastAttentionBlock {
  const { seqLen, kvLen, dModel, heads, dHead, causal, width } = s;
  const xKV = inputs.xKV ?? inputs.x;
  const mapRows = compact ? end - start : seqLen;
  const base = compact ? start : 0;
  const m = end - start;

  // Projections: q only for the rows asked for, k and v in full.
  const q = new Float32Array(mapRows * width);
  const k = new Float32Array(kvLen * width);
  const v = new Float32Array(kvLen * width);
  gemmNT(inputs.x, start * dModel, dModel, transpose(inputs.wq, dModel, width), 0, dModel,
    q, (start - base) * width, width, m, width, dModel, 1, -1, -1);
  gemmNT(xKV, 0, dModel, transpose(inputs.wk, dModel, width), 0, dModel, k, 0, width, kvLen, width, dModel, 1, -1, -1);
  gemmNT(xKV, 0, dModel, transpose(inputs.wv, dModel, width), 0, dModel, v, 0, width, kvLen, width, dModel, 1, -1, -1);
  const t1 = timed ? now() : NaN;

  // Scores: per head, S = Q_h·K_hᵀ/√dHead; masked entries are filled with −Infinity after.
  const mapSize = mapRows * kvLen;
  const scores = new Float32Array(heads * mapSize);
  const scale = 1 / Math.sqrt(dHead);
  const causalFrom = causal ? start : -1;
  for (let h = 0; h < heads; h++) {
    const col = h * dHead;
    const sOff = h * mapSize + (start - base) * kvLen;
    gemmNT(q, (start - base) * width + col, width, k, col, width, scores, sOff, kvLen, m, kvLen, dHead, scale, causalFrom, -1);
    if (causal) {
      for (let i = start; i < end; i++) {
        const row = sOff + (i - start) * kvLen;
        if (i + 1 < kvLen) scores.fill(-Infinity, row + i + 1, row + kvLen);
      }
    }
  }
  const t2 = timed ? now() : NaN;

  // Softmax over the unmasked prefix of each row (the whole row without a mask).
  const weights = new Float32Array(heads * mapSize);
  for (let h = 0; h < heads; h++) {
    for (let i = start; i < end; i++) {
      const row = h * mapSize + (i - base) * kvLen;
      softmaxRow(scores, weights, row, causal ? Math.min(kvLen, i + 1) : kvLen);
    }
  }
  const t3 = timed ? now() : NaN;

  // Output: O_h = P_h·V_h.
  const output = new Float32Array(mapRows * width);
  const vt = new Float32Array(dHead * kvLen);
  for (let h = 0; h < heads; h++) {
    const col = h * dHead;
    // V_hᵀ (dHead × kvLen) makes each output entry a row·row dot product like the scores.
    for (let j = 0; j < kvLen; j++) for (let d = 0; d < dHead; d++) vt[d * kvLen + j] = v[j * width + col + d];
    gemmNT(weights, h * mapSize + (start - base) * kvLen, kvLen, vt, 0, kvLen,
      output, (start - base) * width + col, width, m, dHead, kvLen, 1, -1, causalFrom);
  }
  const t4 = timed ? now() : NaN;

  const timings: FastTimings = {
    projections: t1 - t0,
    scores: t2 - t1,
    softmax: t3 - t2,
    output: t4 - t3,
    total: t4 - t0,
    source: 'wall-clock',
  };
  return { start, end, q, k, v, scores, weights, output, timings };
}

/**
 * Attention on the CPU, tuned for speed (see the module comment for how and how accurate).
 * Validates exactly like `attentionCpu` (same {@link AttentionInputError}s), plus `rows`.
 *
 * @param options.rows compute only query rows [start, end); the other rows of q, scores,
 *   weights and output are left 0.
 * @param options.timings read the clock per stage (default true); false gives NaN timings.
 */
export function attentionCpuFast(
  shape: AttentionShape,
  inputs: AttentionInputs,
  options: FastAttentionOptions = {},
): FastAttentionResult {
  const timed = options.timings ?? true;
  const t0 = timed ? now() : NaN;
  const s = validateAttention(shape, inputs);
  const [start, end] = checkRows(options.rows, s.seqLen);
  const { q, k, v, scores, weights, output, timings } = compute(s, inputs, start, end, false, timed, t0);
  return { q, k, v, scores, weights, output, timings };
}

/**
 * Like {@link attentionCpuFast} with `rows`, but returns the rows in compact arrays (see
 * {@link FastAttentionBlock}): the building block of the parallel path.
 */
export function attentionCpuFastBlock(
  shape: AttentionShape,
  inputs: AttentionInputs,
  rows: readonly [start: number, end: number],
  timings = true,
): FastAttentionBlock {
  const t0 = timings ? now() : NaN;
  const s = validateAttention(shape, inputs);
  const [start, end] = checkRows(rows, s.seqLen);
  return compute(s, inputs, start, end, true, timings, t0);
}

/** Options of {@link splitRows}. */
export interface SplitOptions {
  /** Row i costs min(i + 1, kvLen) instead of kvLen. */
  causal?: boolean;
  /** Keys per row (default seqLen). */
  kvLen?: number;
}

/**
 * Split query rows 0 … seqLen − 1 into at most `parts` contiguous, non-empty [start, end)
 * chunks of about equal work, covering every row exactly once. Row i's work is its number of
 * unmasked keys: kvLen, or min(i + 1, kvLen) under a causal mask, where later rows cost more,
 * so causal chunks get shorter towards the end. Each chunk's work is within one row's cost of
 * total/parts. Fewer than `parts` chunks come back when there are fewer rows than parts.
 */
export function splitRows(seqLen: number, parts: number, options: SplitOptions = {}): Array<[number, number]> {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new AttentionInputError('seqLen', String(seqLen), 'an integer ≥ 1 (splitRows)', 'shape');
  if (!Number.isInteger(parts) || parts < 1) throw new AttentionInputError('parts', String(parts), 'an integer ≥ 1 (splitRows)', 'shape');
  const kvLen = options.kvLen ?? seqLen;
  if (!Number.isInteger(kvLen) || kvLen < 1) throw new AttentionInputError('kvLen', String(kvLen), 'an integer ≥ 1 (splitRows)', 'shape');
  const cost = (i: number) => (options.causal ? Math.min(i + 1, kvLen) : kvLen);
  let total = 0;
  for (let i = 0; i < seqLen; i++) total += cost(i);
  const n = Math.min(parts, seqLen);
  const chunks: Array<[number, number]> = [];
  let start = 0;
  let done = 0;
  let i = 0;
  for (let part = 1; part <= n; part++) {
    if (part === n) {
      chunks.push([start, seqLen]);
      break;
    }
    const target = (total * part) / n;
    // Leave at least one row for each remaining chunk.
    const maxEnd = seqLen - (n - part);
    // Take rows while that brings the chunk closer to its share, and at least one row.
    while (i < maxEnd && (i === start || Math.abs(done + cost(i) - target) <= Math.abs(done - target))) {
      done += cost(i);
      i++;
    }
    chunks.push([start, i]);
    start = i;
  }
  return chunks;
}
