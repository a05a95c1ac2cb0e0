import { describe, expect, it } from 'vitest';
import { attentionCpu, makeRandomInputs, softmaxRowInPlace } from '../../src/index';

/**
 * Expected values here are worked out in the test from the formulas (plain loops over small
 * arrays, written independently of src/reference), never taken from the code under test.
 */

const f32 = (values: number[]) => new Float32Array(values);

describe('the lessons’ worked example: "cat sat"', () => {
  // Embeddings (rows are tokens) and matrices exactly as the lesson gives them; d = 3, one head.
  const cat = [1.0, 0.5, 0.2];
  const sat = [0.3, 1.0, 0.8];
  const wq = [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5]; // 0.5·I
  const wk = [0.4, 0.1, 0, 0.1, 0.4, 0, 0, 0, 0.5]; // 0.5·[[0.8,0.2,0],[0.2,0.8,0],[0,0,1]]
  const wv = [0.8, 0, 0, 0, 0.8, 0, 0, 0, 0.8]; // 0.8·I
  const shape = { seqLen: 2, dModel: 3, heads: 1, dHead: 3 };
  const inputs = { x: f32([...cat, ...sat]), wq: f32(wq), wk: f32(wk), wv: f32(wv) };
  const result = attentionCpu(shape, inputs);

  // By hand: Q = 0.5·x; K(cat) = 0.5·[1·0.8 + 0.5·0.2, 1·0.2 + 0.5·0.8, 0.2] = [0.45, 0.30, 0.10];
  // K(sat) = 0.5·[0.3·0.8 + 1·0.2, 0.3·0.2 + 1·0.8, 0.8] = [0.22, 0.43, 0.40]; V = 0.8·x.
  const qSat = [0.15, 0.5, 0.4];
  const kCat = [0.45, 0.3, 0.1];
  const kSat = [0.22, 0.43, 0.4];
  const dotSatCat = 0.15 * 0.45 + 0.5 * 0.3 + 0.4 * 0.1; // 0.2575
  const dotSatSat = 0.15 * 0.22 + 0.5 * 0.43 + 0.4 * 0.4; // 0.408
  const sSatCat = dotSatCat / Math.sqrt(3);
  const sSatSat = dotSatSat / Math.sqrt(3);
  const pSatCat = Math.exp(sSatCat) / (Math.exp(sSatCat) + Math.exp(sSatSat));

  it('projects Q, K and V as the lesson does', () => {
    expect(Array.from(result.q.subarray(3, 6))).toEqual(qSat.map((v) => expect.closeTo(v, 6)));
    expect(Array.from(result.k.subarray(0, 3))).toEqual(kCat.map((v) => expect.closeTo(v, 6)));
    expect(Array.from(result.k.subarray(3, 6))).toEqual(kSat.map((v) => expect.closeTo(v, 6)));
    expect(Array.from(result.v.subarray(3, 6))).toEqual([0.24, 0.8, 0.64].map((v) => expect.closeTo(v, 6)));
  });

  it('scores sat→cat and sat→sat as dot products over √3', () => {
    expect(dotSatCat).toBeCloseTo(0.2575, 12);
    expect(dotSatSat).toBeCloseTo(0.408, 12);
    expect(result.scores[2]).toBeCloseTo(sSatCat, 6);
    expect(result.scores[3]).toBeCloseTo(sSatSat, 6);
    expect(result.scores[2]).toBeCloseTo(0.148668, 5);
    expect(result.scores[3]).toBeCloseTo(0.235559, 5);
  });

  it('gives the row of "sat" the weights ≈ [0.478, 0.522]', () => {
    expect(result.weights[2]).toBeCloseTo(0.478, 3);
    expect(result.weights[3]).toBeCloseTo(0.522, 3);
    expect(result.weights[2]).toBeCloseTo(pSatCat, 6);
    expect(result.weights[2] + result.weights[3]).toBeCloseTo(1, 6);
  });

  it('mixes the values into the new "sat"', () => {
    const vCat = cat.map((c) => 0.8 * c);
    const vSat = sat.map((c) => 0.8 * c);
    const newSat = vCat.map((c, d) => pSatCat * c + (1 - pSatCat) * vSat[d]);
    expect(Array.from(result.output.subarray(3, 6))).toEqual(newSat.map((v) => expect.closeTo(v, 6)));
  });
});

describe('the 2-token 2-D example (Q = X·W, rows are tokens)', () => {
  it('matches hand arithmetic', () => {
    // cat = [1, 0], sat = [0, 1]; W_Q = I, W_K = [[0,1],[1,0]], W_V = [[1,2],[0,3]].
    const r = attentionCpu(
      { seqLen: 2, dModel: 2, heads: 1, dHead: 2 },
      { x: f32([1, 0, 0, 1]), wq: f32([1, 0, 0, 1]), wk: f32([0, 1, 1, 0]), wv: f32([1, 2, 0, 3]) },
    );
    // Q = X = I; K = W_K (rows swapped identity); V = W_V.
    expect(Array.from(r.k)).toEqual([0, 1, 1, 0]);
    expect(Array.from(r.v)).toEqual([1, 2, 0, 3]);
    // S = Q·Kᵀ/√2 = [[0, 1], [1, 0]]/√2.
    const a = 1 / Math.sqrt(2);
    expect(Array.from(r.scores)).toEqual([0, a, a, 0].map((v) => expect.closeTo(v, 6)));
    const pSmall = 1 / (1 + Math.exp(a));
    expect(Array.from(r.weights)).toEqual([pSmall, 1 - pSmall, 1 - pSmall, pSmall].map((v) => expect.closeTo(v, 6)));
    // cat's output = pSmall·[1,2] + (1−pSmall)·[0,3].
    expect(r.output[0]).toBeCloseTo(pSmall, 6);
    expect(r.output[1]).toBeCloseTo(2 * pSmall + 3 * (1 - pSmall), 6);
  });
});

describe('reference properties', () => {
  it('rows of the weights sum to 1', () => {
    const shape = { seqLen: 9, dModel: 5, heads: 3, dHead: 4 };
    const r = attentionCpu(shape, makeRandomInputs(shape, 7));
    for (let row = 0; row < 3 * 9; row++) {
      let sum = 0;
      for (let j = 0; j < 9; j++) sum += r.weights[row * 9 + j];
      expect(sum).toBeCloseTo(1, 6);
    }
  });

  it('causal rows: −∞ scores and zero weights above the diagonal, the first row attends only to itself', () => {
    const shape = { seqLen: 5, dModel: 4, heads: 2, dHead: 3, causal: true };
    const inputs = makeRandomInputs(shape, 3);
    const r = attentionCpu(shape, inputs);
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 5; i++) {
        for (let j = 0; j < 5; j++) {
          const at = h * 25 + i * 5 + j;
          if (j > i) {
            expect(r.scores[at]).toBe(-Infinity);
            expect(r.weights[at]).toBe(0);
          } else {
            expect(Number.isFinite(r.scores[at])).toBe(true);
            expect(r.weights[at]).toBeGreaterThan(0);
          }
        }
      }
      expect(r.weights[h * 25]).toBeCloseTo(1, 7);
    }
    // The first query sees only the first value, so its output is that value: row 0 of X·W_V,
    // worked out here from the inputs (dModel 4, width 2 heads × 3 = 6).
    const v0 = Array.from({ length: 6 }, (_, c) => {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += inputs.x[k] * inputs.wv[k * 6 + c];
      return sum;
    });
    expect(Array.from(r.output.subarray(0, 6))).toEqual(v0.map((v) => expect.closeTo(v, 6)));
  });

  it('logits ×1e4 stay finite: the softmax subtracts the row max', () => {
    // One head, dHead = 1, q = 1: scores are the key values ×1e4/1 → a huge spread.
    const r = attentionCpu(
      { seqLen: 1, kvLen: 3, dModel: 1, heads: 1, dHead: 1 },
      { x: f32([1]), xKV: f32([1e4, 2e4, 2e4 - 1e-3]), wq: f32([1]), wk: f32([1]), wv: f32([1]) },
    );
    expect(Array.from(r.scores)).toEqual([1e4, 2e4, 2e4 - 1e-3].map((v) => expect.closeTo(v, 1)));
    for (const w of r.weights) expect(Number.isFinite(w)).toBe(true);
    // exp(−1e4) underflows to 0; the two near-equal logits share the mass. q = 1 and W_K = 1, so
    // the logits are the stored keys themselves: 2e4 and fround(2e4 − 1e-3) = 19999.998046875
    // (f32 spacing at 2e4 is 2⁻⁹), a gap of 2⁻⁹ = 0.001953125.
    const gap = 2e4 - Math.fround(2e4 - 1e-3);
    expect(gap).toBe(2 ** -9);
    const p2 = 1 / (1 + Math.exp(-gap));
    expect(r.weights[0]).toBe(0);
    expect(r.weights[1]).toBeCloseTo(p2, 6);
    expect(r.weights[1] + r.weights[2]).toBeCloseTo(1, 7);
  });

  it('one token attends fully to itself', () => {
    const r = attentionCpu(
      { seqLen: 1, dModel: 2, heads: 1, dHead: 2 },
      { x: f32([3, -1]), wq: f32([1, 0, 0, 1]), wk: f32([1, 0, 0, 1]), wv: f32([2, 0, 0, 2]) },
    );
    expect(Array.from(r.weights)).toEqual([1]);
    expect(r.scores[0]).toBeCloseTo((3 * 3 + 1) / Math.sqrt(2), 5);
    expect(Array.from(r.output)).toEqual([6, -2]);
  });

  it('cross-attention with kvLen ≠ seqLen uses xKV for keys and values', () => {
    // 2 queries, 3 keys, dModel = dHead = 1, weights 1: score(i, j) = x_i·xKV_j.
    const x = [1, 2];
    const xKV = [0.5, -1, 2];
    const r = attentionCpu(
      { seqLen: 2, kvLen: 3, dModel: 1, heads: 1, dHead: 1 },
      { x: f32(x), xKV: f32(xKV), wq: f32([1]), wk: f32([1]), wv: f32([1]) },
    );
    expect(r.k.length).toBe(3);
    expect(r.scores.length).toBe(6);
    for (let i = 0; i < 2; i++) {
      const logits = xKV.map((kv) => x[i] * kv);
      const z = logits.reduce((acc, l) => acc + Math.exp(l), 0);
      const probs = logits.map((l) => Math.exp(l) / z);
      for (let j = 0; j < 3; j++) {
        expect(r.scores[i * 3 + j]).toBeCloseTo(logits[j], 6);
        expect(r.weights[i * 3 + j]).toBeCloseTo(probs[j], 6);
      }
      expect(r.output[i]).toBeCloseTo(probs.reduce((acc, p, j) => acc + p * xKV[j], 0), 6);
    }
  });

  it('a fully masked row becomes zeros, never NaN', () => {
    const row = new Float64Array([-Infinity, -Infinity, -Infinity]);
    softmaxRowInPlace(row);
    expect(Array.from(row)).toEqual([0, 0, 0]);
  });

  it('several heads use their own column slices', () => {
    // dModel 2, two heads of dHead 1: head 0 sees column 0 of W, head 1 column 1.
    const r = attentionCpu(
      { seqLen: 2, dModel: 2, heads: 2, dHead: 1 },
      { x: f32([1, 0, 0, 1]), wq: f32([1, 0, 0, 1]), wk: f32([1, 0, 0, 1]), wv: f32([1, 0, 0, 1]) },
    );
    // Head 0: q = [1, 0], k = [1, 0] → scores [[1, 0], [0, 0]]; head 1: q = k = [0, 1].
    expect(Array.from(r.scores)).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
    const e = Math.E / (Math.E + 1);
    expect(Array.from(r.weights)).toEqual([e, 1 - e, 0.5, 0.5, 0.5, 0.5, 1 - e, e].map((v) => expect.closeTo(v, 6)));
  });
});

describe('reference on selected rows', () => {
  it('equals the full reference on those rows', async () => {
    const { attentionCpuRows, sampleRows } = await import('../../src/index');
    const shape = { seqLen: 11, kvLen: 7, dModel: 6, heads: 2, dHead: 3, causal: true };
    const inputs = makeRandomInputs(shape, 8);
    const full = attentionCpu(shape, inputs);
    const rows = sampleRows(11, 4);
    expect(rows).toEqual([0, 3, 5, 10]);
    const part = attentionCpuRows(shape, inputs, rows);
    for (let h = 0; h < 2; h++) {
      rows.forEach((row, r) => {
        for (let j = 0; j < 7; j++) {
          expect(part.scores[(h * 4 + r) * 7 + j]).toBe(full.scores[(h * 11 + row) * 7 + j]);
          expect(part.weights[(h * 4 + r) * 7 + j]).toBeCloseTo(full.weights[(h * 11 + row) * 7 + j], 7);
        }
      });
    }
    rows.forEach((row, r) => {
      for (let c = 0; c < 6; c++) expect(part.output[r * 6 + c]).toBeCloseTo(full.output[row * 6 + c], 6);
    });
    expect(() => attentionCpuRows(shape, inputs, [11])).toThrow(/row 11/);
  });
});
