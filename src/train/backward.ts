/**
 * The hand-written backward of every layer of src/model/layers.ts, and the softmax
 * cross-entropy loss, over flat row-major typed arrays (conventions as layers.ts).
 *
 * - Backward functions ADD into parameter gradients (`dw`, `db`, `dgamma`, …), so one zeroed
 *   gradient buffer collects a whole step (and `wte` collects both of its uses).
 * - Input gradients are overwritten (`dx` of linear, GELU, attention, output), except
 *   {@link layerNormBackward}, which adds into `dx`: every LayerNorm sits on the residual
 *   stream, whose gradient is already in `dx` (x + f(LN(x)) passes dx straight through).
 * - Sums are accumulated in double; Float32 storage never means Float32 accumulation.
 */
import { GELU_C, GELU_K } from '../model/layers';
import { transpose, type Floats, type Scratch } from '../model/matmul';

/**
 * Backward of `linearForward`: dx = dy·wᵀ (overwritten; skipped when null), dw += xᵀ·dy,
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

/**
 * Backward of `layerNormForward`, from the saved mean and rstd. With x̂ = (x − mean)·rstd
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

/**
 * Backward of `attentionForward` from its saved `probs`: dqkv (same layout as qkv) is
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

/** Backward of `embeddingForward`: dwte[token] += dx row, dwpe[offsets[b] + t] += dx row. */
export function embeddingBackward(tokens: ArrayLike<number>, dx: Floats, dwte: Floats, dwpe: Floats, batch: number, seqLen: number, d: number, offsets?: ArrayLike<number>): void {
  for (let b = 0; b < batch; b++) {
    const first = offsets === undefined ? 0 : offsets[b];
    for (let t = 0; t < seqLen; t++) {
      const row = (b * seqLen + t) * d;
      const tok = tokens[b * seqLen + t] * d;
      const pos = (first + t) * d;
      for (let j = 0; j < d; j++) {
        dwte[tok + j] += dx[row + j];
        dwpe[pos + j] += dx[row + j];
      }
    }
  }
}

/** Backward of `outputForward`: dx = dlogits·W (overwritten), dW += dlogitsᵀ·x (W: wte when tied, else lm_head). */
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
