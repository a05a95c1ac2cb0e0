/**
 * The layers of the GPT-2-style decoder's forward pass (forward.ts runs them in order), over
 * flat row-major typed arrays. Their backward twins are in src/train/backward.ts.
 *
 * Every function takes `Float32Array | Float64Array` ({@link Floats}) and works the same in
 * both: training runs them on Float32 storage, the forward reference and the gradient checks
 * on Float64. Arithmetic is JavaScript's, i.e. double precision: every dot product, sum, mean
 * and variance is accumulated in a double local and only rounded when stored, so Float32
 * storage never means Float32 accumulation.
 *
 * Conventions, the same in every function (and in the backward ones):
 * - "rows" are tokens (batch·seqLen of them), stored one after another; a row of width n is
 *   `n` consecutive entries.
 * - Forward functions overwrite their outputs.
 * - No function allocates per call except through a {@link Scratch}, which keeps its buffers
 *   for the next call, so a training step allocates nothing once warm.
 * - The matrix products go through the scratch's kernel (matmul.ts).
 */
import { matmulNT, transpose, type Floats, type MatmulKernel, type Scratch } from './matmul';

/** LayerNorm's ε, as GPT-2 (`layer_norm_epsilon = 1e-5`). */
export const LAYER_NORM_EPS = 1e-5;

/** √(2/π), the constant of GPT-2's tanh GELU. */
export const GELU_C = Math.sqrt(2 / Math.PI);
/** The cubic coefficient of GPT-2's tanh GELU. */
export const GELU_K = 0.044715;

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

// ---------------------------------------------------------------------------------------------
// Embeddings and the output projection
// ---------------------------------------------------------------------------------------------

/**
 * x[b·seqLen + t] = wte[token] + wpe[offsets[b] + t] for every sequence b, position t. `tokens`
 * holds batch × seqLen ids (row-major); `offsets` (default all 0) the position of each row's
 * first token, so a short training window can sit anywhere in the context. Neither is checked
 * here (the model validates them once).
 */
export function embeddingForward(tokens: ArrayLike<number>, wte: Floats, wpe: Floats, x: Floats, batch: number, seqLen: number, d: number, offsets?: ArrayLike<number>): void {
  for (let b = 0; b < batch; b++) {
    const first = offsets === undefined ? 0 : offsets[b];
    for (let t = 0; t < seqLen; t++) {
      const row = (b * seqLen + t) * d;
      const tok = tokens[b * seqLen + t] * d;
      const pos = (first + t) * d;
      for (let j = 0; j < d; j++) x[row + j] = wte[tok + j] + wpe[pos + j];
    }
  }
}

/** logits (rows × vocab) = x (rows × d) · Wᵀ, W the output matrix [vocab, d]: `wte` when tied, else `lm_head.weight`. */
export function outputForward(x: Floats, wte: Floats, logits: Floats, rows: number, d: number, vocab: number, matmul: MatmulKernel = matmulNT): void {
  matmul(x, 0, d, wte, 0, d, logits, 0, vocab, rows, vocab, d, false);
}
