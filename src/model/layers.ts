/**
 * The layers of the GPT-2-style decoder (src/model/gpt.ts), each as a forward and a
 * hand-written backward function over flat row-major typed arrays.
 *
 * Every function takes `Float32Array | Float64Array` ({@link Floats}) and works the same in
 * both: training runs them on Float32 storage, the forward reference and the gradient checks
 * on Float64. Arithmetic is JavaScript's, i.e. double precision: every dot product, sum, mean
 * and variance is accumulated in a double local and only rounded when stored, so Float32
 * storage never means Float32 accumulation.
 *
 * Conventions, the same in every function:
 * - "rows" are tokens (batch·seqLen of them), stored one after another; a row of width n is
 *   `n` consecutive entries.
 * - Forward functions overwrite their outputs.
 * - Backward functions ADD into parameter gradients (`dw`, `db`, `dgamma`, …), so one zeroed
 *   gradient buffer collects a whole step (and `wte` collects both of its uses).
 * - Input gradients are overwritten (`dx` of linear, GELU, attention, output), except
 *   {@link layerNormBackward}, which adds into `dx`: every LayerNorm sits on the residual
 *   stream, whose gradient is already in `dx` (x + f(LN(x)) passes dx straight through).
 * - No function allocates per call except through a {@link Scratch}, which keeps its buffers
 *   for the next call, so a training step allocates nothing once warm.
 *
 * The matrix products all go through one kernel, {@link matmulNT} (C = A·Bᵀ, both operands
 * read along rows), register-blocked 2 rows × 4 columns. Measured on this project's machine
 * (Node 20, one core, 1024×64 · 64×192, Float32): the textbook i-k-j loop does 0.27 GMAC/s,
 * plain dot products 0.6, the 2×4 block 1.9. The other operand layouts are brought to this one
 * by transposing into scratch (cost rows·cols, against rows·cols·depth for the product).
 * Layers that take a {@link Scratch} call the kernel it carries (`scratch.matmul`, matmulNT
 * unless the scratch was made with another {@link MatmulKernel}): training's workspaces can
 * carry the WebAssembly SIMD kernel of simd.ts, which gives the same bits several times faster.
 */

/** The storage every layer accepts: Float32 for training, Float64 for references and checks. */
export type Floats = Float32Array | Float64Array;

/** LayerNorm's ε, as GPT-2 (`layer_norm_epsilon = 1e-5`). */
export const LAYER_NORM_EPS = 1e-5;

/** √(2/π), the constant of GPT-2's tanh GELU. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/**
 * Buffers that outlive a call: `take(slot, length)` returns the slot's array, grown when too
 * short (never shrunk), in the storage type the scratch was made for. Slots are reused by
 * every layer in turn (a transpose of one layer's weight is dead once its product is done).
 */
export class Scratch {
  private readonly slots = new Map<string, Floats>();
  constructor(
    /** Makes a zeroed array of the scratch's storage type. */
    readonly make: (length: number) => Floats,
    /** The matrix kernel of the layers that take this scratch (default {@link matmulNT}). */
    readonly matmul: MatmulKernel = matmulNT,
  ) {}

  take(slot: string, length: number): Floats {
    const have = this.slots.get(slot);
    if (have !== undefined && have.length >= length) return have;
    const made = this.make(length);
    this.slots.set(slot, made);
    return made;
  }
}

/** A scratch whose buffers are Float32Array or Float64Array, like `like`. */
export function scratchFor(like: Floats): Scratch {
  return like instanceof Float64Array ? new Scratch((n) => new Float64Array(n)) : new Scratch((n) => new Float32Array(n));
}

// ---------------------------------------------------------------------------------------------
// The kernel
// ---------------------------------------------------------------------------------------------

/**
 * Which entries of a product over a causal (square) map are needed, so the kernel can skip
 * the rest (half the work of every attention product):
 * - `'full'`: all of C, the whole depth.
 * - `'lower'`: only C[i][j] with j ≤ i is computed; entries above the diagonal are left as
 *   they were (the caller masks them).
 * - `'kUpToRow'`: row i sums only k ≤ i + 1, because A[i][k] = 0 for k > i (A is a causal map
 *   like the softmax weights). The row pair (i, i+1) is blocked together, so A[i][i+1] is read
 *   and must really be 0.
 * - `'kFromRow'`: row i sums only k ≥ i, because A[i][k] = 0 for k < i (A is a transposed
 *   causal map); likewise A[i+1][i] must be 0.
 */
export type Band = 'full' | 'lower' | 'kUpToRow' | 'kFromRow';

/**
 * C (m × n) = A (m × depth) · Bᵀ, where B is n × depth: C[i][j] = Σ_k A[i][k] · B[j][k]. Each
 * matrix is given by its array, the offset of its first entry and its row stride (`ld`), so
 * the kernel reads one head's columns straight out of a wider row (Q inside c_attn's output).
 * `accumulate` adds to C instead of overwriting it.
 *
 * Blocked 2 rows of A × 4 rows of B: eight running sums in registers, six loads per eight
 * multiply-adds, no store inside the depth loop (see the module comment for the speed-up).
 */
export function matmulNT(
  a: Floats,
  aOff: number,
  lda: number,
  b: Floats,
  bOff: number,
  ldb: number,
  c: Floats,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  depth: number,
  accumulate: boolean,
  band: Band = 'full',
): void {
  const lower = band === 'lower';
  const kUp = band === 'kUpToRow';
  const kFrom = band === 'kFromRow';
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = aOff + i * lda;
    const a1 = a0 + lda;
    const c0 = cOff + i * ldc;
    const c1 = c0 + ldc;
    const k0 = kFrom ? Math.min(i, depth) : 0;
    const k1 = kUp ? Math.min(i + 2, depth) : depth;
    // Columns both rows need (row i stops at j = i when lower), then each row's own tail.
    const end0 = lower ? Math.min(n, i + 1) : n;
    const end1 = lower ? Math.min(n, i + 2) : n;
    let j = 0;
    for (; j + 3 < end0; j += 4) {
      const b0 = bOff + j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = k0; k < k1; k++) {
        const x0 = a[a0 + k];
        const x1 = a[a1 + k];
        const y0 = b[b0 + k];
        const y1 = b[b1 + k];
        const y2 = b[b2 + k];
        const y3 = b[b3 + k];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      if (accumulate) {
        c[c0 + j] += s00;
        c[c0 + j + 1] += s01;
        c[c0 + j + 2] += s02;
        c[c0 + j + 3] += s03;
        c[c1 + j] += s10;
        c[c1 + j + 1] += s11;
        c[c1 + j + 2] += s12;
        c[c1 + j + 3] += s13;
      } else {
        c[c0 + j] = s00;
        c[c0 + j + 1] = s01;
        c[c0 + j + 2] = s02;
        c[c0 + j + 3] = s03;
        c[c1 + j] = s10;
        c[c1 + j + 1] = s11;
        c[c1 + j + 2] = s12;
        c[c1 + j + 3] = s13;
      }
    }
    for (let jj = j; jj < end0; jj++) dotInto(a, a0, b, bOff + jj * ldb, c, c0 + jj, k0, k1, accumulate);
    for (let jj = j; jj < end1; jj++) dotInto(a, a1, b, bOff + jj * ldb, c, c1 + jj, k0, k1, accumulate);
  }
  if (i < m) {
    // The odd last row: 1 × 4 blocks.
    const a0 = aOff + i * lda;
    const c0 = cOff + i * ldc;
    const k0 = kFrom ? Math.min(i, depth) : 0;
    const k1 = kUp ? Math.min(i + 1, depth) : depth;
    const end0 = lower ? Math.min(n, i + 1) : n;
    let j = 0;
    for (; j + 3 < end0; j += 4) {
      const b0 = bOff + j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = k0; k < k1; k++) {
        const x0 = a[a0 + k];
        s0 += x0 * b[b0 + k];
        s1 += x0 * b[b1 + k];
        s2 += x0 * b[b2 + k];
        s3 += x0 * b[b3 + k];
      }
      if (accumulate) {
        c[c0 + j] += s0;
        c[c0 + j + 1] += s1;
        c[c0 + j + 2] += s2;
        c[c0 + j + 3] += s3;
      } else {
        c[c0 + j] = s0;
        c[c0 + j + 1] = s1;
        c[c0 + j + 2] = s2;
        c[c0 + j + 3] = s3;
      }
    }
    for (; j < end0; j++) dotInto(a, a0, b, bOff + j * ldb, c, c0 + j, k0, k1, accumulate);
  }
}

/**
 * The signature of {@link matmulNT}, for kernels that stand in for it with the same arguments and
 * result (src/model/simd.ts). Each {@link Scratch} carries the kernel its layers use.
 */
export type MatmulKernel = typeof matmulNT;

function dotInto(a: Floats, aAt: number, b: Floats, bAt: number, c: Floats, cAt: number, k0: number, k1: number, accumulate: boolean): void {
  let s = 0;
  for (let k = k0; k < k1; k++) s += a[aAt + k] * b[bAt + k];
  c[cAt] = accumulate ? c[cAt] + s : s;
}

/** dst[j][i] = src[i][j] for a rows × cols block; strides as in {@link matmulNT}. */
export function transpose(src: Floats, srcOff: number, lds: number, rows: number, cols: number, dst: Floats, dstOff: number, ldd: number): void {
  // 32 × 32 tiles keep both the reads and the writes within cache lines.
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(r0 + 32, rows);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = Math.min(c0 + 32, cols);
      for (let r = r0; r < r1; r++) {
        const from = srcOff + r * lds;
        for (let col = c0; col < c1; col++) dst[dstOff + col * ldd + r] = src[from + col];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Linear (GPT-2's Conv1D: W stored [in, out], y = x·W + b)
// ---------------------------------------------------------------------------------------------

/** y (rows × nOut) = x (rows × nIn) · w (nIn × nOut) + b (nOut; null for no bias). */
export function linearForward(x: Floats, w: Floats, b: Floats | null, y: Floats, rows: number, nIn: number, nOut: number, scratch: Scratch): void {
  const wT = scratch.take('linear.wT', nIn * nOut);
  transpose(w, 0, nOut, nIn, nOut, wT, 0, nIn);
  scratch.matmul(x, 0, nIn, wT, 0, nIn, y, 0, nOut, rows, nOut, nIn, false);
  if (b !== null) {
    for (let i = 0; i < rows; i++) {
      const at = i * nOut;
      for (let j = 0; j < nOut; j++) y[at + j] += b[j];
    }
  }
}

/**
 * Backward of {@link linearForward}: dx = dy·wᵀ (overwritten; skipped when null), dw += xᵀ·dy,
 * db += column sums of dy (skipped when null).
 */
export function linearBackward(
  x: Floats,
  w: Floats,
  dy: Floats,
  dx: Floats | null,
  dw: Floats,
  db: Floats | null,
  rows: number,
  nIn: number,
  nOut: number,
  scratch: Scratch,
): void {
  // dx[i][k] = Σ_j dy[i][j] · w[k][j]: both read along rows as they are.
  if (dx !== null) scratch.matmul(dy, 0, nOut, w, 0, nOut, dx, 0, nIn, rows, nIn, nOut, false);
  // dw[k][j] = Σ_i x[i][k] · dy[i][j] = (xᵀ)[k] · (dyᵀ)[j]: transpose both to read along rows.
  const xT = scratch.take('linear.xT', nIn * rows);
  const dyT = scratch.take('linear.dyT', nOut * rows);
  transpose(x, 0, nIn, rows, nIn, xT, 0, rows);
  transpose(dy, 0, nOut, rows, nOut, dyT, 0, rows);
  scratch.matmul(xT, 0, rows, dyT, 0, rows, dw, 0, nOut, nIn, nOut, rows, true);
  if (db !== null) {
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      const at = j * rows;
      for (let i = 0; i < rows; i++) s += dyT[at + i];
      db[j] += s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm
// ---------------------------------------------------------------------------------------------

/**
 * y = (x − mean)/√(var + ε) · γ + β per row of width n (biased variance, as PyTorch). Saves
 * each row's mean and 1/√(var + ε) in `mean` and `rstd` (length rows) for the backward. The
 * statistics are computed in double, two passes (mean, then squared deviations), so a row with
 * a large mean does not lose its variance to cancellation.
 */
export function layerNormForward(
  x: Floats,
  gamma: Floats,
  beta: Floats,
  y: Floats,
  mean: Floats,
  rstd: Floats,
  rows: number,
  n: number,
  eps = LAYER_NORM_EPS,
): void {
  for (let i = 0; i < rows; i++) {
    const at = i * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += x[at + j];
    const mu = sum / n;
    let sq = 0;
    for (let j = 0; j < n; j++) {
      const dev = x[at + j] - mu;
      sq += dev * dev;
    }
    const r = 1 / Math.sqrt(sq / n + eps);
    mean[i] = mu;
    rstd[i] = r;
    for (let j = 0; j < n; j++) y[at + j] = (x[at + j] - mu) * r * gamma[j] + beta[j];
  }
}

/**
 * Backward of {@link layerNormForward}, from the saved mean and rstd. With x̂ = (x − mean)·rstd
 * and g = dy·γ: dx += rstd·(g − mean(g) − x̂·mean(g·x̂)) (ADDED: see the module comment),
 * dγ += Σ_rows dy·x̂, dβ += Σ_rows dy.
 */
export function layerNormBackward(
  x: Floats,
  gamma: Floats,
  mean: Floats,
  rstd: Floats,
  dy: Floats,
  dx: Floats,
  dgamma: Floats,
  dbeta: Floats,
  rows: number,
  n: number,
): void {
  for (let i = 0; i < rows; i++) {
    const at = i * n;
    const mu = mean[i];
    const r = rstd[i];
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < n; j++) {
      const xhat = (x[at + j] - mu) * r;
      const g = dy[at + j] * gamma[j];
      gMean += g;
      gxMean += g * xhat;
      dgamma[j] += dy[at + j] * xhat;
      dbeta[j] += dy[at + j];
    }
    gMean /= n;
    gxMean /= n;
    for (let j = 0; j < n; j++) {
      const xhat = (x[at + j] - mu) * r;
      dx[at + j] += r * (dy[at + j] * gamma[j] - gMean - xhat * gxMean);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GELU (GPT-2's tanh approximation, "gelu_new")
// ---------------------------------------------------------------------------------------------

/** y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), elementwise over `count` entries. */
export function geluForward(x: Floats, y: Floats, count: number): void {
  for (let i = 0; i < count; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_K * v * v * v)));
  }
}

/**
 * dx = dy · GELU'(x) (overwritten), recomputing tanh rather than storing it:
 * GELU'(x) = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(…).
 */
export function geluBackward(x: Floats, dy: Floats, dx: Floats, count: number): void {
  for (let i = 0; i < count; i++) {
    const v = x[i];
    const t = Math.tanh(GELU_C * (v + GELU_K * v * v * v));
    const slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * v * v);
    dx[i] = dy[i] * slope;
  }
}

// ---------------------------------------------------------------------------------------------
// Causal multi-head self-attention (the part between c_attn and c_proj)
// ---------------------------------------------------------------------------------------------

/**
 * Causal attention for every sequence of a batch and every head.
 *
 * Layouts: `qkv` is c_attn's output, (batch·seqLen) × 3d with d = heads·dHead: columns
 * 0…d−1 are Q, d…2d−1 K, 2d…3d−1 V, head h owning columns h·dHead…(h+1)·dHead−1 within each.
 * `out` is (batch·seqLen) × d, heads side by side (the input of c_proj). `probs` (and `scores`
 * when given) are batch × heads × seqLen × seqLen: `scores` = QKᵀ/√dHead with −∞ above the
 * diagonal (key j > query i), `probs` its row softmax with exact 0 there (the backward and the
 * banded products rely on those zeros).
 */
export function attentionForward(
  qkv: Floats,
  out: Floats,
  probs: Floats,
  batch: number,
  seqLen: number,
  heads: number,
  dHead: number,
  scratch: Scratch,
  scores: Floats | null = null,
): void {
  const d = heads * dHead;
  const ld = 3 * d;
  const map = seqLen * seqLen;
  const scale = 1 / Math.sqrt(dHead);
  const vT = scratch.take('attn.vT', dHead * seqLen);
  for (let b = 0; b < batch; b++) {
    const rowBase = b * seqLen;
    for (let h = 0; h < heads; h++) {
      const p = (b * heads + h) * map;
      const qOff = rowBase * ld + h * dHead;
      // S = Q·Kᵀ on and below the diagonal only.
      scratch.matmul(qkv, qOff, ld, qkv, qOff + d, ld, probs, p, seqLen, seqLen, seqLen, dHead, false, 'lower');
      for (let i = 0; i < seqLen; i++) {
        const row = p + i * seqLen;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const s = probs[row + j] * scale;
          probs[row + j] = s;
          if (s > max) max = s;
        }
        if (scores !== null) {
          for (let j = 0; j <= i; j++) scores[row + j] = probs[row + j];
          for (let j = i + 1; j < seqLen; j++) scores[row + j] = -Infinity;
        }
        // Stable softmax: subtract the row max; the sum is a double.
        let sum = 0;
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(probs[row + j] - max);
          probs[row + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j <= i; j++) probs[row + j] *= inv;
        for (let j = i + 1; j < seqLen; j++) probs[row + j] = 0;
      }
      // out_h = P·V: V transposed so the kernel reads it along rows; P is zero above the diagonal.
      transpose(qkv, qOff + 2 * d, ld, seqLen, dHead, vT, 0, seqLen);
      scratch.matmul(probs, p, seqLen, vT, 0, seqLen, out, rowBase * d + h * dHead, d, seqLen, dHead, seqLen, false, 'kUpToRow');
    }
  }
}

/**
 * Backward of {@link attentionForward} from its saved `probs`: dqkv (same layout as qkv) is
 * overwritten. Per sequence and head, with P the weights and dO the head's slice of `dout`:
 * dP = dO·Vᵀ; dS = P ∘ (dP − rowsum(P ∘ dP)) (softmax), times 1/√dHead (the scale);
 * dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO. Masked entries have P = 0, so they get dS = 0 and pass
 * nothing back: the mask needs no backward of its own.
 */
export function attentionBackward(
  qkv: Floats,
  probs: Floats,
  dout: Floats,
  dqkv: Floats,
  batch: number,
  seqLen: number,
  heads: number,
  dHead: number,
  scratch: Scratch,
): void {
  const d = heads * dHead;
  const ld = 3 * d;
  const map = seqLen * seqLen;
  const scale = 1 / Math.sqrt(dHead);
  const dS = scratch.take('attn.dS', map);
  const mapT = scratch.take('attn.mapT', map);
  const headT = scratch.take('attn.headT', dHead * seqLen);
  for (let b = 0; b < batch; b++) {
    const rowBase = b * seqLen;
    for (let h = 0; h < heads; h++) {
      const p = (b * heads + h) * map;
      const qOff = rowBase * ld + h * dHead;
      const kOff = qOff + d;
      const vOff = qOff + 2 * d;
      const oOff = rowBase * d + h * dHead;
      // dP[i][j] = dO[i] · V[j], j ≤ i.
      scratch.matmul(dout, oOff, d, qkv, vOff, ld, dS, 0, seqLen, seqLen, seqLen, dHead, false, 'lower');
      for (let i = 0; i < seqLen; i++) {
        const row = i * seqLen;
        const prow = p + row;
        let dot = 0;
        for (let j = 0; j <= i; j++) dot += probs[prow + j] * dS[row + j];
        for (let j = 0; j <= i; j++) dS[row + j] = probs[prow + j] * (dS[row + j] - dot) * scale;
        for (let j = i + 1; j < seqLen; j++) dS[row + j] = 0;
      }
      // dQ = dS·K (K transposed to read along rows).
      transpose(qkv, kOff, ld, seqLen, dHead, headT, 0, seqLen);
      scratch.matmul(dS, 0, seqLen, headT, 0, seqLen, dqkv, qOff, ld, seqLen, dHead, seqLen, false, 'kUpToRow');
      // dK = dSᵀ·Q: row j of dSᵀ is zero before j.
      transpose(dS, 0, seqLen, seqLen, seqLen, mapT, 0, seqLen);
      transpose(qkv, qOff, ld, seqLen, dHead, headT, 0, seqLen);
      scratch.matmul(mapT, 0, seqLen, headT, 0, seqLen, dqkv, kOff, ld, seqLen, dHead, seqLen, false, 'kFromRow');
      // dV = Pᵀ·dO.
      transpose(probs, p, seqLen, seqLen, seqLen, mapT, 0, seqLen);
      transpose(dout, oOff, d, seqLen, dHead, headT, 0, seqLen);
      scratch.matmul(mapT, 0, seqLen, headT, 0, seqLen, dqkv, vOff, ld, seqLen, dHead, seqLen, false, 'kFromRow');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings, the tied output projection and the loss
// ---------------------------------------------------------------------------------------------

/**
 * x[b·seqLen + t] = wte[token] + wpe[t] for every sequence b, position t. `tokens` holds
 * batch × seqLen ids (row-major); they are not checked here (the model validates them once).
 */
export function embeddingForward(tokens: ArrayLike<number>, wte: Floats, wpe: Floats, x: Floats, batch: number, seqLen: number, d: number): void {
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) {
      const row = (b * seqLen + t) * d;
      const tok = tokens[b * seqLen + t] * d;
      const pos = t * d;
      for (let j = 0; j < d; j++) x[row + j] = wte[tok + j] + wpe[pos + j];
    }
  }
}

/** Backward of {@link embeddingForward}: dwte[token] += dx row, dwpe[t] += dx row. */
export function embeddingBackward(tokens: ArrayLike<number>, dx: Floats, dwte: Floats, dwpe: Floats, batch: number, seqLen: number, d: number): void {
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) {
      const row = (b * seqLen + t) * d;
      const tok = tokens[b * seqLen + t] * d;
      const pos = t * d;
      for (let j = 0; j < d; j++) {
        dwte[tok + j] += dx[row + j];
        dwpe[pos + j] += dx[row + j];
      }
    }
  }
}

/** logits (rows × vocab) = x (rows × d) · wteᵀ: the output layer tied to the token embedding. */
export function outputForward(x: Floats, wte: Floats, logits: Floats, rows: number, d: number, vocab: number, matmul: MatmulKernel = matmulNT): void {
  matmul(x, 0, d, wte, 0, d, logits, 0, vocab, rows, vocab, d, false);
}

/** Backward of {@link outputForward}: dx = dlogits·wte (overwritten), dwte += dlogitsᵀ·x. */
export function outputBackward(x: Floats, wte: Floats, dlogits: Floats, dx: Floats, dwte: Floats, rows: number, d: number, vocab: number, scratch: Scratch): void {
  const wteT = scratch.take('out.wteT', d * vocab);
  transpose(wte, 0, d, vocab, d, wteT, 0, vocab);
  scratch.matmul(dlogits, 0, vocab, wteT, 0, vocab, dx, 0, d, rows, d, vocab, false);
  const gT = scratch.take('out.dlogitsT', vocab * rows);
  const xT = scratch.take('out.xT', d * rows);
  transpose(dlogits, 0, vocab, rows, vocab, gT, 0, rows);
  transpose(x, 0, d, rows, d, xT, 0, rows);
  scratch.matmul(gT, 0, rows, xT, 0, rows, dwte, 0, d, vocab, d, rows, true);
}

/**
 * Softmax cross-entropy of every row of `logits` (rows × vocab) against `targets` (one id per
 * row). Returns the SUM of −log p(target) in nats, computed in double as log Σ exp(z − max) −
 * (z_target − max), so it is exact for large logits too. When `grad` is given (it may be
 * `logits` itself) it receives gradScale·(softmax − onehot(target)), the gradient of
 * gradScale·sum (use 1/rows for the mean).
 */
export function crossEntropy(logits: Floats, targets: ArrayLike<number>, rows: number, vocab: number, grad: Floats | null = null, gradScale = 1): number {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const at = i * vocab;
    const target = targets[i];
    const zt = logits[at + target]; // read before `grad` (possibly the same array) is written
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) if (logits[at + v] > max) max = logits[at + v];
    let sum = 0;
    if (grad === null) {
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v] - max);
    } else {
      for (let v = 0; v < vocab; v++) {
        const e = Math.exp(logits[at + v] - max);
        grad[at + v] = e;
        sum += e;
      }
      const inv = gradScale / sum;
      for (let v = 0; v < vocab; v++) grad[at + v] *= inv;
      grad[at + target] -= gradScale;
    }
    total += Math.log(sum) - (zt - max);
  }
  return total;
}
