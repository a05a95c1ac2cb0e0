import { describe, expect, it } from 'vitest';
import { attentionCpuFast, attentionCpuFastBlock, splitRows } from '../../src/cpu/fast-attention';
import { AttentionInputError } from '../../src/core/errors';
import { resolveShape, type AttentionShape } from '../../src/core/types';
// Straight from the modules (not src/index) so these tests do not depend on the GPU kernels' shader files.
import { attentionCpu64 } from '../../src/reference/attention';
import { makeRandomInputs } from '../../src/reference/random';

/**
 * The fast path against the f64 reference, with error bounds derived per element from how the
 * fast path rounds (every value is rounded to f32 once when stored; sums are in doubles):
 * - q, k, v: half an f32 ulp, |Δ| ≤ 2⁻²⁴·|ref| (+1e-12 for the f64 sums' order)
 * - scores: from f32-rounded q and k, |Δ| ≤ 2⁻²²·Σ_d|q_d·k_d|/√dHead + 2⁻²⁴·|ref|
 * - weights: a score error E moves p by at most 2E·p; plus the f32 roundings of exp and of
 *   the result: |Δp| ≤ p·(2·E_row + 2⁻²¹), E_row the largest score bound of the row
 * - output: Σ_j (|Δp_j|·|v_j| + p_j·2⁻²⁴·|v_j|) + 2⁻²⁴·|ref|
 */

const EPS = 2 ** -24;

function checkAgainstReference(shape: AttentionShape, seed: number) {
  const s = resolveShape(shape);
  const inputs = makeRandomInputs(shape, seed);
  const fast = attentionCpuFast(shape, inputs);
  const ref = attentionCpu64(s, inputs);
  const { seqLen, kvLen, heads, dHead, width } = s;
  const scale = 1 / Math.sqrt(dHead);
  const worst = { q: 0, k: 0, v: 0, scores: 0, weights: 0, output: 0 };
  // Ratio |Δ| / bound: every one must be ≤ 1.
  const note = (name: keyof typeof worst, got: number, want: number, bound: number) => {
    const ratio = Math.abs(got - want) / bound;
    if (!(ratio <= worst[name])) worst[name] = Number.isNaN(ratio) ? Infinity : ratio;
  };
  for (const name of ['q', 'k', 'v'] as const) {
    for (let i = 0; i < ref[name].length; i++) note(name, fast[name][i], ref[name][i], EPS * Math.abs(ref[name][i]) + 1e-12);
  }
  const scoreBound = new Float64Array(heads * seqLen * kvLen);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < seqLen; i++) {
      const row = (h * seqLen + i) * kvLen;
      let rowBound = 0;
      for (let j = 0; j < kvLen; j++) {
        const at = row + j;
        if (s.causal && j > i) {
          expect(fast.scores[at]).toBe(-Infinity);
          expect(fast.weights[at]).toBe(0);
          continue;
        }
        let absDot = 0;
        for (let d = 0; d < dHead; d++) absDot += Math.abs(ref.q[i * width + h * dHead + d] * ref.k[j * width + h * dHead + d]);
        scoreBound[at] = 4 * EPS * absDot * scale + EPS * Math.abs(ref.scores[at]) + 1e-12;
        rowBound = Math.max(rowBound, scoreBound[at]);
        note('scores', fast.scores[at], ref.scores[at], scoreBound[at]);
      }
      for (let d = 0; d < dHead; d++) {
        let outBound = EPS * Math.abs(ref.output[i * width + h * dHead + d]) + 1e-12;
        for (let j = 0; j < kvLen; j++) {
          const p = ref.weights[row + j];
          const pBound = p * (2 * rowBound + 8 * EPS) + 1e-12;
          if (d === 0) note('weights', fast.weights[row + j], p, pBound);
          const vj = Math.abs(ref.v[j * width + h * dHead + d]);
          outBound += pBound * vj + p * EPS * vj;
        }
        note('output', fast.output[i * width + h * dHead + d], ref.output[i * width + h * dHead + d], outBound);
      }
    }
  }
  return { worst, fast };
}

describe('attentionCpuFast matches the f64 reference within the stated f32 bounds', () => {
  const shapes: AttentionShape[] = [];
  let n = 0;
  for (const seqLen of [1, 3, 17, 100, 257]) {
    for (const dHead of [1, 3, 64]) {
      for (const causal of [false, true]) {
        shapes.push({ seqLen, dModel: [8, 5, 16][n % 3], heads: (n % 4) + 1, dHead, causal });
        n++;
      }
    }
  }
  // Cross-attention: fewer and more keys than queries, one key, with and without the mask.
  shapes.push(
    { seqLen: 3, kvLen: 1, dModel: 4, heads: 2, dHead: 3 },
    { seqLen: 17, kvLen: 5, dModel: 8, heads: 3, dHead: 64, causal: true },
    { seqLen: 100, kvLen: 37, dModel: 6, heads: 1, dHead: 3 },
    { seqLen: 100, kvLen: 300, dModel: 8, heads: 4, dHead: 1, causal: true },
    { seqLen: 257, kvLen: 64, dModel: 12, heads: 2, dHead: 64, causal: true },
    { seqLen: 1, kvLen: 257, dModel: 3, heads: 4, dHead: 64 },
  );

  for (const [index, shape] of shapes.entries()) {
    const label = `seqLen ${shape.seqLen}${shape.kvLen ? ` kvLen ${shape.kvLen}` : ''} dModel ${shape.dModel} heads ${shape.heads} dHead ${shape.dHead}${shape.causal ? ' causal' : ''}`;
    it(label, () => {
      const { worst, fast } = checkAgainstReference(shape, 100 + index);
      for (const [name, ratio] of Object.entries(worst)) expect(ratio, `${name}: |Δ|/bound`).toBeLessThanOrEqual(1);
      expect(fast.timings.source).toBe('wall-clock');
      for (const stage of ['projections', 'scores', 'softmax', 'output', 'total'] as const) {
        expect(fast.timings[stage]).toBeGreaterThanOrEqual(0);
      }
      expect(fast.timings.total).toBeGreaterThanOrEqual(
        fast.timings.projections + fast.timings.scores + fast.timings.softmax + fast.timings.output - 1e-9,
      );
    });
  }
});

describe('attentionCpuFast on hand-computed examples', () => {
  it('the 2-token 2-D example (W_Q = I, W_K swaps, W_V = [[1,2],[0,3]])', () => {
    const f32 = (v: number[]) => new Float32Array(v);
    const r = attentionCpuFast(
      { seqLen: 2, dModel: 2, heads: 1, dHead: 2 },
      { x: f32([1, 0, 0, 1]), wq: f32([1, 0, 0, 1]), wk: f32([0, 1, 1, 0]), wv: f32([1, 2, 0, 3]) },
    );
    // S = [[0, 1], [1, 0]]/√2; the small weight is 1/(1 + e^{1/√2}).
    const a = 1 / Math.sqrt(2);
    const small = 1 / (1 + Math.exp(a));
    expect(Array.from(r.scores)).toEqual([0, a, a, 0].map((x) => expect.closeTo(x, 6)));
    expect(Array.from(r.weights)).toEqual([small, 1 - small, 1 - small, small].map((x) => expect.closeTo(x, 6)));
    // Row 0: small·[1,2] + (1 − small)·[0,3].
    expect(r.output[0]).toBeCloseTo(small, 6);
    expect(r.output[1]).toBeCloseTo(2 * small + 3 * (1 - small), 6);
  });

  it('a causal first row attends only to itself; the second mixes two keys', () => {
    // x = [[1], [2]], every weight 1, dHead 1: q = k = v = x; s₁₀ = 2, s₁₁ = 4.
    const one = new Float32Array([1]);
    const r = attentionCpuFast({ seqLen: 2, dModel: 1, heads: 1, dHead: 1, causal: true }, { x: new Float32Array([1, 2]), wq: one, wk: one, wv: one });
    expect(Array.from(r.scores)).toEqual([1, -Infinity, 2, 4]);
    const p = 1 / (1 + Math.exp(2)); // weight of key 0 for query 1
    expect(Array.from(r.weights)).toEqual([1, 0, expect.closeTo(p, 7), expect.closeTo(1 - p, 7)]);
    expect(r.output[0]).toBe(1);
    expect(r.output[1]).toBeCloseTo(p * 1 + (1 - p) * 2, 6);
  });

  it('validates like attentionCpu, and refuses a bad rows range naming "rows"', () => {
    const shape = { seqLen: 4, dModel: 2, heads: 1, dHead: 2 };
    const inputs = makeRandomInputs(shape, 1);
    expect(() => attentionCpuFast({ ...shape, seqLen: 0 }, inputs)).toThrow(AttentionInputError);
    expect(() => attentionCpuFast(shape, { ...inputs, wq: new Float32Array(3) })).toThrow(/wq: got length 3/);
    for (const rows of [[2, 2], [-1, 2], [0, 5], [1.5, 3], [3, 1]] as Array<[number, number]>) {
      expect(() => attentionCpuFast(shape, inputs, { rows })).toThrow(/^rows: got \[/);
    }
  });

  it('timings: false reads no clock and reports NaN', () => {
    const shape = { seqLen: 3, dModel: 2, heads: 1, dHead: 2 };
    const t = attentionCpuFast(shape, makeRandomInputs(shape, 2), { timings: false }).timings;
    expect([t.projections, t.scores, t.softmax, t.output, t.total].every(Number.isNaN)).toBe(true);
  });
});

describe('the rows option', () => {
  for (const causal of [false, true]) {
    it(`computes exactly rows [start, end) and leaves the rest 0${causal ? ' (causal)' : ''}`, () => {
      const shape = { seqLen: 23, kvLen: causal ? 23 : 19, dModel: 7, heads: 3, dHead: 5, causal };
      const s = resolveShape(shape);
      const inputs = makeRandomInputs(shape, 7);
      const full = attentionCpuFast(shape, inputs);
      for (const [start, end] of [[0, 1], [5, 14], [22, 23], [0, 23], [3, 4]] as Array<[number, number]>) {
        const part = attentionCpuFast(shape, inputs, { rows: [start, end] });
        // k and v are complete; rows are bit-identical to the whole run's; the others are 0.
        expect(part.k).toEqual(full.k);
        expect(part.v).toEqual(full.v);
        for (let i = 0; i < s.seqLen; i++) {
          const inside = i >= start && i < end;
          const rowOf = (a: Float32Array, w: number) => Array.from(a.subarray(i * w, (i + 1) * w));
          expect(rowOf(part.q, s.width)).toEqual(inside ? rowOf(full.q, s.width) : new Array(s.width).fill(0));
          expect(rowOf(part.output, s.width)).toEqual(inside ? rowOf(full.output, s.width) : new Array(s.width).fill(0));
          for (let h = 0; h < s.heads; h++) {
            const at = (h * s.seqLen + i) * s.kvLen;
            for (const name of ['scores', 'weights'] as const) {
              const got = Array.from(part[name].subarray(at, at + s.kvLen));
              expect(got).toEqual(inside ? Array.from(full[name].subarray(at, at + s.kvLen)) : new Array(s.kvLen).fill(0));
            }
          }
        }
        // The compact block holds the same rows, packed: heads × rows × kvLen and rows × width.
        const block = attentionCpuFastBlock(shape, inputs, [start, end]);
        const rows = end - start;
        expect(block.scores.length).toBe(s.heads * rows * s.kvLen);
        expect(block.q).toEqual(full.q.slice(start * s.width, end * s.width));
        expect(block.output).toEqual(full.output.slice(start * s.width, end * s.width));
        for (let h = 0; h < s.heads; h++) {
          const from = (h * s.seqLen + start) * s.kvLen;
          expect(block.weights.subarray(h * rows * s.kvLen, (h + 1) * rows * s.kvLen)).toEqual(full.weights.slice(from, from + rows * s.kvLen));
        }
      }
    });
  }
});

describe('splitRows', () => {
  const covers = (chunks: Array<[number, number]>, seqLen: number) => {
    // Contiguous, non-empty, in order, from 0 to seqLen: every row exactly once.
    expect(chunks[0][0]).toBe(0);
    expect(chunks[chunks.length - 1][1]).toBe(seqLen);
    for (const [i, [a, b]] of chunks.entries()) {
      expect(b).toBeGreaterThan(a);
      if (i > 0) expect(a).toBe(chunks[i - 1][1]);
    }
  };

  it('splits evenly without a mask', () => {
    expect(splitRows(12, 3)).toEqual([[0, 4], [4, 8], [8, 12]]);
    expect(splitRows(10, 4).map(([a, b]) => b - a).sort()).toEqual([2, 3, 2, 3].sort());
    expect(splitRows(5, 1)).toEqual([[0, 5]]);
  });

  it('gives no more chunks than rows', () => {
    expect(splitRows(3, 8)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(splitRows(1, 4)).toEqual([[0, 1]]);
  });

  it('balances causal work: row i costs i + 1', () => {
    // 9 rows cost 1 + 2 + … + 9 = 45; halves of 22.5: rows 0–5 cost 21, rows 0–6 cost 28, so
    // the first chunk stops after row 5 (21, then 7 + 8 + 9 = 24); an even row split gives 10/35.
    expect(splitRows(9, 2, { causal: true })).toEqual([[0, 6], [6, 9]]);
    // 1000 rows in 4: the boundaries of equal area under i + 1 are near 1000·√(k/4) = 500, 707, 866.
    const chunks = splitRows(1000, 4, { causal: true });
    expect(chunks.map(([, b]) => b)).toEqual([500, 707, 866, 1000].map((b) => expect.closeTo(b, -0.5)));
  });

  it('covers every row once and keeps each chunk within one row of its share', () => {
    for (const [seqLen, parts, causal, kvLen] of [
      [1, 1, true, 1], [7, 3, true, 7], [100, 7, true, 100], [257, 16, true, 257], [1000, 8, false, 1000],
      [300, 5, true, 40], [50, 50, true, 50], [2048, 6, true, 2048],
    ] as Array<[number, number, boolean, number]>) {
      const chunks = splitRows(seqLen, parts, { causal, kvLen });
      covers(chunks, seqLen);
      expect(chunks.length).toBe(Math.min(parts, seqLen));
      const cost = (i: number) => (causal ? Math.min(i + 1, kvLen) : kvLen);
      let total = 0;
      for (let i = 0; i < seqLen; i++) total += cost(i);
      const maxRow = cost(seqLen - 1);
      for (const [a, b] of chunks) {
        let work = 0;
        for (let i = a; i < b; i++) work += cost(i);
        expect(Math.abs(work - total / chunks.length)).toBeLessThanOrEqual(maxRow);
      }
    }
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => splitRows(0, 2)).toThrow(/seqLen/);
    expect(() => splitRows(4, 0)).toThrow(/parts/);
    expect(() => splitRows(4, 1.5)).toThrow(/parts/);
    expect(() => splitRows(4, 2, { kvLen: 0 })).toThrow(/kvLen/);
  });
});
