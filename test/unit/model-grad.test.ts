/**
 * Every hand-written backward (src/train/backward.ts, and the whole model in src/train/loss.ts) against
 * central finite differences, in Float64, on tiny odd shapes (d 6, heads 3, dHead 2, dMlp 10,
 * seqLen 5, vocab 11, 2 blocks) so every entry can be checked.
 *
 * rel err = |analytic − numeric| / max(|analytic| + |numeric|, 1e-8), required ≤ 1e-3. Values
 * are random and of order 1 (not GPT-2's 0.02 init) so the softmax is far from uniform and
 * GELU far from linear, where a wrong backward would show.
 */
import { describe, expect, it } from 'vitest';
import { makeRng } from '../../src/reference/random';
import { forwardReference } from '../../src/model/forward-reference';
import { attentionForward, embeddingForward, geluForward, layerNormForward, linearForward, outputForward } from '../../src/model/layers';
import { scratchFor } from '../../src/model/matmul';
import { paramShapes, paramsToFloat64, type GptConfig, type GptParams } from '../../src/model/schema';
import { attentionBackward, crossEntropy, embeddingBackward, geluBackward, layerNormBackward, linearBackward, outputBackward } from '../../src/train/backward';
import { gaussian, initParams } from '../../src/train/init';
import { lossAndGrads, lossOnly, type TokenBatch } from '../../src/train/loss';

const H = 1e-5;
const TOLERANCE = 1e-3;

function randn(seed: number, length: number, scale = 1, offset = 0): Float64Array {
  const normal = gaussian(makeRng(seed));
  return Float64Array.from({ length }, () => offset + scale * normal());
}

function relErr(a: number, n: number): number {
  return Math.abs(a - n) / Math.max(Math.abs(a) + Math.abs(n), 1e-8);
}

/** The central difference of `loss` in entry i of x alone. */
function centralDifference(loss: () => number, x: Float64Array, i: number): number {
  const keep = x[i];
  x[i] = keep + H;
  const up = loss();
  x[i] = keep - H;
  const down = loss();
  x[i] = keep;
  return (up - down) / (2 * H);
}

/**
 * The worst rel err between `analytic` and central differences of `loss` in every entry of
 * `x` (or those in `indices`), perturbing x in place and restoring it.
 */
function worstRelErr(loss: () => number, x: Float64Array, analytic: ArrayLike<number>, indices?: readonly number[]): { worst: number; at: number; a: number; n: number } {
  let result = { worst: 0, at: -1, a: 0, n: 0 };
  for (const i of indices ?? x.keys()) {
    const numeric = centralDifference(loss, x, i);
    const err = relErr(analytic[i], numeric);
    if (err > result.worst) result = { worst: err, at: i, a: analytic[i], n: numeric };
  }
  return result;
}

function expectGrad(label: string, loss: () => number, x: Float64Array, analytic: ArrayLike<number>, indices?: readonly number[]): void {
  const r = worstRelErr(loss, x, analytic, indices);
  expect(r.worst, `${label}: worst at [${r.at}], analytic ${r.a}, numeric ${r.n}`).toBeLessThanOrEqual(TOLERANCE);
}

/** Σ y·R: a scalar whose gradient with respect to y is R, so dy = R drives each backward. */
function project(y: Float64Array, r: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * r[i];
  return s;
}

describe('layer backwards against finite differences (Float64)', () => {
  const scratch = scratchFor(new Float64Array(0));

  it('LayerNorm: dx (added into dx), dγ, dβ', () => {
    const rows = 7;
    const n = 6;
    const x = randn(1, rows * n, 2, 0.5);
    const gamma = randn(2, n, 0.5, 1);
    const beta = randn(3, n);
    const r = randn(4, rows * n);
    const y = new Float64Array(rows * n);
    const mean = new Float64Array(rows);
    const rstd = new Float64Array(rows);
    const loss = () => {
      layerNormForward(x, gamma, beta, y, mean, rstd, rows, n);
      return project(y, r);
    };
    loss();
    const base = randn(5, rows * n); // dx already holds a residual gradient: the backward adds to it
    const dx = base.slice();
    const dgamma = new Float64Array(n);
    const dbeta = new Float64Array(n);
    layerNormBackward(x, gamma, mean, rstd, r, dx, dgamma, dbeta, rows, n);
    const added = dx.map((v, i) => v - base[i]);
    expectGrad('dx', loss, x, added);
    expectGrad('dgamma', loss, gamma, dgamma);
    expectGrad('dbeta', loss, beta, dbeta);
  });

  for (const [rows, nIn, nOut] of [
    [7, 6, 18],
    [5, 10, 6],
    [1, 3, 1],
  ]) {
    it(`linear ${rows}×${nIn} → ${nOut}: dx, dW, db`, () => {
      const x = randn(10, rows * nIn);
      const w = randn(11, nIn * nOut);
      const b = randn(12, nOut);
      const r = randn(13, rows * nOut);
      const y = new Float64Array(rows * nOut);
      const loss = () => {
        linearForward(x, w, b, y, rows, nIn, nOut, scratch);
        return project(y, r);
      };
      const dx = new Float64Array(rows * nIn).fill(99); // overwritten
      const dw = new Float64Array(nIn * nOut);
      const db = new Float64Array(nOut);
      linearBackward(x, w, r, dx, dw, db, rows, nIn, nOut, scratch);
      expectGrad('dx', loss, x, dx);
      expectGrad('dW', loss, w, dw);
      expectGrad('db', loss, b, db);
    });
  }

  it('GELU (tanh approximation): dx, and its values', () => {
    const count = 41;
    const x = Float64Array.from({ length: count }, (_, i) => -5 + (10 * i) / (count - 1) + 0.013);
    const r = randn(20, count);
    const y = new Float64Array(count);
    const loss = () => {
      geluForward(x, y, count);
      return project(y, r);
    };
    const dx = new Float64Array(count);
    geluBackward(x, r, dx, count);
    expectGrad('dx', loss, x, dx);
    // PyTorch's gelu(approximate='tanh') / GPT-2's gelu_new at ±1 and 3.
    const probe = Float64Array.from([1, -1, 3]);
    const out = new Float64Array(3);
    geluForward(probe, out, 3);
    expect(out[0]).toBeCloseTo(0.8411919906082768, 14);
    expect(out[1]).toBeCloseTo(-0.15880800939172324, 14);
    expect(out[2]).toBeCloseTo(2.996362607918227, 14);
  });

  for (const [batch, seqLen] of [
    [2, 5],
    [1, 6],
    [3, 1],
  ]) {
    it(`causal attention, batch ${batch} × seqLen ${seqLen}, 3 heads of 2: dQ, dK, dV through the mask and softmax`, () => {
      const heads = 3;
      const dHead = 2;
      const d = heads * dHead;
      const rows = batch * seqLen;
      const qkv = randn(30 + seqLen, rows * 3 * d, 1.5);
      const r = randn(31, rows * d);
      const out = new Float64Array(rows * d);
      const probs = new Float64Array(batch * heads * seqLen * seqLen);
      const loss = () => {
        attentionForward(qkv, out, probs, batch, seqLen, heads, dHead, scratch);
        return project(out, r);
      };
      loss();
      const dqkv = new Float64Array(rows * 3 * d).fill(99); // overwritten
      attentionBackward(qkv, probs, r, dqkv, batch, seqLen, heads, dHead, scratch);
      expectGrad('dqkv', loss, qkv, dqkv);
      // The last query of each sequence sees every key: its weights are spread (not one-hot), so
      // the check above went through a real softmax.
      if (seqLen > 1) {
        const last = (seqLen - 1) * seqLen;
        expect(Math.max(...probs.subarray(last, last + seqLen))).toBeLessThan(0.95);
      }
    });
  }

  it('embedding + tied output + softmax cross-entropy: dwte (both uses), dwpe, dx', () => {
    const vocab = 11;
    const context = 7;
    const d = 6;
    const batch = 2;
    const seqLen = 5;
    const rows = batch * seqLen;
    const wte = randn(40, vocab * d);
    const wpe = randn(41, context * d);
    const inputs = Int32Array.from([3, 0, 10, 3, 7, 1, 1, 9, 4, 2]);
    const targets = Int32Array.from([0, 10, 3, 7, 5, 1, 9, 4, 2, 8]);
    const x = new Float64Array(rows * d);
    const logits = new Float64Array(rows * vocab);
    const loss = () => {
      embeddingForward(inputs, wte, wpe, x, batch, seqLen, d);
      outputForward(x, wte, logits, rows, d, vocab);
      return crossEntropy(logits, targets, rows, vocab) / rows;
    };
    loss();
    const dlogits = new Float64Array(rows * vocab);
    crossEntropy(logits, targets, rows, vocab, dlogits, 1 / rows);
    const dx = new Float64Array(rows * d);
    const dwte = new Float64Array(vocab * d);
    const dwpe = new Float64Array(context * d);
    outputBackward(x, wte, dlogits, dx, dwte, rows, d, vocab, scratch);
    embeddingBackward(inputs, dx, dwte, dwpe, batch, seqLen, d);
    expectGrad('dwte', loss, wte, dwte);
    expectGrad('dwpe', loss, wpe, dwpe);
    // dx of the output layer alone, with x as the variable.
    const xFixed = x.slice();
    const lossOfX = () => {
      outputForward(xFixed, wte, logits, rows, d, vocab);
      return crossEntropy(logits, targets, rows, vocab) / rows;
    };
    expectGrad('dx', lossOfX, xFixed, dx);
    // In-place gradient (grad = logits) gives the same numbers as a separate buffer.
    outputForward(x, wte, logits, rows, d, vocab);
    const sum = crossEntropy(logits, targets, rows, vocab, logits, 1 / rows);
    expect(sum / rows).toBeCloseTo(loss(), 14);
    outputForward(x, wte, logits, rows, d, vocab);
    crossEntropy(logits, targets, rows, vocab, logits, 1 / rows);
    expect(Array.from(logits)).toEqual(Array.from(dlogits));
  });
});

describe('the whole model against finite differences (Float64)', () => {
  const config: GptConfig = { vocabSize: 11, context: 7, dModel: 6, heads: 3, layers: 2, dMlp: 10 };

  /** Order-1 random parameters in Float64 (LayerNorm gains around 1). */
  function params64(seed: number): GptParams<Float64Array> {
    const normal = gaussian(makeRng(seed));
    const params: GptParams<Float64Array> = new Map();
    for (const [name, shape] of paramShapes(config)) {
      const gain = /ln_(1|2|f)\.weight$/.test(name);
      params.set(name, Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (gain ? 1 : 0) + 0.5 * normal()));
    }
    return params;
  }

  const batch: TokenBatch = {
    // 2 sequences of 5 predictions (6 ids each); ids repeat so embedding rows collect twice.
    tokens: Int32Array.from([3, 0, 10, 3, 7, 5, /**/ 1, 1, 9, 4, 2, 8]),
    batch: 2,
    length: 5,
  };

  it('every entry of every parameter tensor', () => {
    const params = params64(50);
    const { loss, grads } = lossAndGrads(config, params, batch);
    expect(loss).toBeCloseTo(lossOnly(config, params, batch), 14);
    const d = config.dModel;
    for (const [name, data] of params) {
      const g = grads.get(name)!;
      expect(g).toBeInstanceOf(Float64Array);
      const all = [...data.keys()];
      if (name.endsWith('attn.c_attn.bias')) {
        // The key bias adds q_i·b to every score of row i, which the softmax cancels: its true
        // gradient is exactly 0, so the analytic one must be ~0 and the numeric one roundoff.
        for (let i = d; i < 2 * d; i++) {
          expect(Math.abs(g[i]), `${name}[${i}] analytic`).toBeLessThan(1e-14);
          expect(Math.abs(centralDifference(() => lossOnly(config, params, batch), data, i)), `${name}[${i}] numeric`).toBeLessThan(1e-9);
        }
        expectGrad(name, () => lossOnly(config, params, batch), data, g, all.filter((i) => i < d || i >= 2 * d));
      } else {
        expectGrad(name, () => lossOnly(config, params, batch), data, g, all);
      }
    }
    // Positions past the sequence get exactly nothing.
    expect(grads.get('wpe.weight')!.subarray(5 * 6).every((v) => v === 0)).toBe(true);
  });

  it('untied output layer (lm_head.weight) and windows at position offsets: every entry, and the positions read', () => {
    const untied: GptConfig = { ...config, tiedEmbeddings: false };
    const normal = gaussian(makeRng(52));
    const params: GptParams<Float64Array> = new Map();
    for (const [name, shape] of paramShapes(untied)) {
      const gain = /ln_(1|2|f)\.weight$/.test(name);
      params.set(name, Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (gain ? 1 : 0) + 0.5 * normal()));
    }
    expect(params.has('lm_head.weight')).toBe(true);
    // Row 0 reads positions 2…6 (the last 5 of context 7), row 1 positions 1…5.
    const shifted: TokenBatch = { ...batch, offsets: Int32Array.from([2, 1]) };
    const { grads } = lossAndGrads(untied, params, shifted);
    const loss = () => lossOnly(untied, params, shifted);
    for (const name of ['wte.weight', 'wpe.weight', 'lm_head.weight', 'h.1.attn.c_attn.weight', 'ln_f.weight']) {
      expectGrad(name, loss, params.get(name)!, grads.get(name)!, [...params.get(name)!.keys()]);
    }
    // Position 0 is read by neither row: its gradient is exactly 0; positions 1 and 6 only by one row.
    const dwpe = grads.get('wpe.weight')!;
    expect(dwpe.subarray(0, 6).every((v) => v === 0)).toBe(true);
    expect(dwpe.subarray(6, 12).some((v) => v !== 0)).toBe(true);
    expect(dwpe.subarray(36, 42).some((v) => v !== 0)).toBe(true);
    // The untied head's gradient is lnF·dlogits only: wte's no longer includes it (they differ).
    expect(Array.from(grads.get('lm_head.weight')!)).not.toEqual(Array.from(grads.get('wte.weight')!));
    // An offset past context − length is refused by name.
    expect(() => lossAndGrads(untied, params, { ...batch, offsets: Int32Array.from([3, 0]) })).toThrow(/batch\.offsets\[0\].*3.*from 0 to 2/);
    expect(() => lossAndGrads(untied, params, { ...batch, offsets: Int32Array.from([0]) })).toThrow(/batch\.offsets.*length 1.*length 2/);
  });

  it('gradients written into given arrays (zeroed first) equal new ones', () => {
    const params = params64(51);
    const fresh = lossAndGrads(config, params, batch).grads;
    const into: GptParams<Float64Array> = new Map([...params].map(([name, data]) => [name, new Float64Array(data.length).fill(5)]));
    const again = lossAndGrads(config, params, batch, { grads: into });
    expect(again.grads).toBe(into);
    for (const [name, g] of fresh) expect(Array.from(into.get(name)!), name).toEqual(Array.from(g));
  });
});

describe('the Float32 training forward against the Float64 reference', () => {
  const config: GptConfig = { vocabSize: 37, context: 16, dModel: 12, heads: 3, layers: 2, dMlp: 20 };

  /** Mean cross-entropy of the reference logits of each row against its next tokens, by hand. */
  function referenceLoss(params: GptParams, batch: TokenBatch): number {
    let total = 0;
    const V = config.vocabSize;
    for (let b = 0; b < batch.batch; b++) {
      const row = Array.from(batch.tokens.subarray(b * (batch.length + 1), (b + 1) * (batch.length + 1)));
      const { logits } = forwardReference(config, params, row.slice(0, -1));
      for (let t = 0; t < batch.length; t++) {
        const z = logits.subarray(t * V, (t + 1) * V);
        const max = Math.max(...z);
        const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
        total += lse - z[row[t + 1]];
      }
    }
    return total / (batch.batch * batch.length);
  }

  function makeBatch(seed: number, rows: number, length: number): TokenBatch {
    const rng = makeRng(seed);
    return { tokens: Int32Array.from({ length: rows * (length + 1) }, () => Math.floor(rng() * config.vocabSize)), batch: rows, length };
  }

  it('agrees within 1e-5 relative, at GPT-2 init and with order-1 weights', () => {
    const init = initParams(config, 7);
    const wide = initParams(config, 8);
    const normal = gaussian(makeRng(80));
    for (const [name, data] of wide) {
      const gain = /ln_(1|2|f)\.weight$/.test(name);
      for (let i = 0; i < data.length; i++) data[i] = (gain ? 1 : 0) + 0.3 * normal();
    }
    for (const params of [init, wide]) {
      for (const batch of [makeBatch(1, 3, 16), makeBatch(2, 2, 9)]) {
        const want = referenceLoss(params, batch);
        const { loss } = lossAndGrads(config, params, batch);
        expect(Math.abs(loss - want) / want, `loss ${loss} vs reference ${want}`).toBeLessThanOrEqual(1e-5);
        expect(lossOnly(config, params, batch)).toBe(loss);
      }
    }
  });

  it('Float32 gradients are close to the Float64 ones', () => {
    const params = initParams(config, 9);
    const batch = makeBatch(3, 2, 12);
    const g32 = lossAndGrads(config, params, batch).grads;
    const g64 = lossAndGrads(config, paramsToFloat64(params), batch).grads;
    for (const [name, g] of g64) {
      const scale = Math.max(...g.map(Math.abs));
      const worst = Math.max(...Array.from(g32.get(name)!, (v, i) => Math.abs(v - g[i])));
      expect(worst / scale, name).toBeLessThan(1e-4);
    }
  });
});
