// The CPU side of the Q/K view (src/reference/qk-projection.ts): the Jacobi eigen-solver on
// matrices whose eigenvectors are known, AttentionViz's normalisation leaving the softmax
// weights as they were, the raw mode of the "cat sat" lesson, and the input errors.
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { makeRng } from '../../src/reference/random';
import { projectQkReference, qkNormalisation, symmetricEigen } from '../../src/reference/qk-projection';
import { thrown } from './expect-thrown';

/** A random orthogonal d × d matrix (rows orthonormal) by Gram–Schmidt of a seeded random matrix. */
function randomRotation(d: number, seed: number): Float64Array {
  const rng = makeRng(seed);
  const r = Float64Array.from({ length: d * d }, () => rng() * 2 - 1);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < a; b++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += r[a * d + i] * r[b * d + i];
      for (let i = 0; i < d; i++) r[a * d + i] -= dot * r[b * d + i];
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += r[a * d + i] ** 2;
    for (let i = 0; i < d; i++) r[a * d + i] /= Math.sqrt(norm);
  }
  return r;
}

/** Σ_a λ_a u_a u_aᵀ with u_a the rows of `rotation`. */
function fromEigen(rotation: Float64Array, lambda: number[], d: number): Float64Array {
  const m = new Float64Array(d * d);
  lambda.forEach((l, a) => {
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] += l * rotation[a * d + i] * rotation[a * d + j];
  });
  return m;
}

/** The vector flipped so its largest-magnitude component is positive (the module's sign convention). */
function signed(v: ArrayLike<number>): number[] {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[best])) best = i;
  return Array.from(v, (x) => (v[best] < 0 ? -x : x));
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, d: number, ai = 0, bi = 0) => {
  let s = 0;
  for (let i = 0; i < d; i++) s += a[ai * d + i] * b[bi * d + i];
  return s;
};

function softmax(row: number[]): number[] {
  const top = Math.max(...row);
  const e = row.map((x) => Math.exp(x - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

describe('symmetricEigen', () => {
  it('solves a 2 × 2 by hand: [[2, 1], [1, 2]] has 3 along (1, 1)/√2 and 1 along (1, −1)/√2', () => {
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    // Ties in magnitude: the lowest index is made positive.
    expect(vectors[0]).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[1]).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[2]).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[3]).toBeCloseTo(-Math.SQRT1_2, 14);
  });

  it('sorts a diagonal matrix descending and keeps the index order of equal values', () => {
    const { values, vectors } = symmetricEigen([1, 0, 0, 0, 5, 0, 0, 0, 1], 3);
    expect(Array.from(values)).toEqual([5, 1, 1]);
    expect(Array.from(vectors)).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 1]);
  });

  it('recovers R·diag·Rᵀ for known rotations (d = 5, 16, 64), sign convention applied', () => {
    for (const [d, seed] of [[5, 1], [16, 2], [64, 3]]) {
      const rotation = randomRotation(d, seed);
      const lambda = Array.from({ length: d }, (_, a) => 10 * 0.8 ** a - (a === d - 1 ? 1 : 0));
      const { values, vectors } = symmetricEigen(fromEigen(rotation, lambda, d), d);
      for (let a = 0; a < d; a++) {
        expect(Math.abs(values[a] - lambda[a]), `d ${d} λ${a}`).toBeLessThan(1e-11);
        const expected = signed(rotation.subarray(a * d, (a + 1) * d));
        for (let i = 0; i < d; i++) expect(Math.abs(vectors[a * d + i] - expected[i]), `d ${d} e${a}[${i}]`).toBeLessThan(1e-9);
      }
    }
  });

  it('refuses a matrix of the wrong length, NaN and a bad size, naming the field', () => {
    expect(thrown(AttentionInputError, () => symmetricEigen([1, 2, 3], 2)).field).toBe('matrix');
    const nan = thrown(AttentionInputError, () => symmetricEigen([1, NaN, NaN, 1], 2));
    expect([nan.field, nan.given, nan.kind]).toEqual(['matrix[1]', 'NaN', 'non-finite']);
    expect(thrown(AttentionInputError, () => symmetricEigen([], 0)).field).toBe('d');
  });
});

describe('qkNormalisation', () => {
  const n = 6;
  const m = 9;
  const d = 5;
  const rng = makeRng(7);
  const q = Array.from({ length: n * d }, () => rng() * 2 - 0.5);
  const k = Array.from({ length: m * d }, () => rng() * 3 - 2);
  const { shift, scale } = qkNormalisation(q, k, n, m, d);

  it('translates the keys so the centroids meet and scales both clouds to the same mean norm', () => {
    for (let i = 0; i < d; i++) {
      let mq = 0;
      let mk = 0;
      for (let r = 0; r < n; r++) mq += q[r * d + i] / n;
      for (let r = 0; r < m; r++) mk += (k[r * d + i] + shift[i]) / m;
      expect(mk).toBeCloseTo(mq, 14);
    }
    const meanNorm = (x: number[], rows: number, f: (value: number, i: number) => number) =>
      Array.from({ length: rows }, (_, r) => Math.hypot(...Array.from({ length: d }, (_, i) => f(x[r * d + i], i)))).reduce((a, b) => a + b, 0) / rows;
    const normQ = meanNorm(q, n, (x) => x * scale);
    const normK = meanNorm(k, m, (x, i) => (x + shift[i]) / scale);
    expect(normK).toBeCloseTo(normQ, 13);
    expect(scale).not.toBeCloseTo(1, 2);
  });

  it('leaves every softmax row unchanged (the shift adds q_i·c to a whole row) and q″·k″ = q·k′', () => {
    for (let r = 0; r < n; r++) {
      const before = Array.from({ length: m }, (_, j) => dot(q, k, d, r, j) / Math.sqrt(d));
      const shifted = Array.from({ length: m }, (_, j) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[r * d + i] * (k[j * d + i] + shift[i]);
        return s / Math.sqrt(d);
      });
      const rowShift = dot(q, shift, d, r, 0) / Math.sqrt(d);
      shifted.forEach((s, j) => expect(s - before[j]).toBeCloseTo(rowShift, 13));
      softmax(shifted).forEach((w, j) => expect(w).toBeCloseTo(softmax(before)[j], 14));
      for (let j = 0; j < m; j++) {
        let scaled = 0;
        for (let i = 0; i < d; i++) scaled += q[r * d + i] * scale * ((k[j * d + i] + shift[i]) / scale);
        expect(scaled).toBeCloseTo(shifted[j] * Math.sqrt(d), 13);
      }
    }
  });

  it('keeps scale 1 when the queries are all zero', () => {
    expect(qkNormalisation([0, 0, 0, 0], [1, 2, 3, 4], 1, 1, 4).scale).toBe(1);
  });
});

describe('projectQkReference', () => {
  it('returns the raw vectors for d = 3 (the "cat sat" lesson), zero-padded for d = 2', () => {
    const q = [1, 0, 2, 0.5, -1, 0];
    const k = [0, 1, 1, 2, 0, -0.5];
    const v = [3, 1, 0, -1, 2, 4];
    const p = projectQkReference({ q, k, v, queries: 2, keys: 2, dHead: 3 });
    expect(p.raw).toBe(true);
    expect(Array.from(p.points)).toEqual([...q, ...k, ...v]);
    expect(Array.from(p.axes)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect([p.normalisation.scale, ...p.normalisation.shift, ...p.mean, p.share]).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
    // Variances of the raw q and k coordinates about their joint mean (0.875, 0, 0.625).
    expect(p.variance[0]).toBeCloseTo((0.125 ** 2 + 0.375 ** 2 + 0.875 ** 2 + 1.125 ** 2) / 4, 14);
    expect(p.variance[1]).toBeCloseTo((0 + 1 + 1 + 0) / 4, 14);
    expect(p.variance[2]).toBeCloseTo((1.375 ** 2 + 0.625 ** 2 + 0.375 ** 2 + 1.125 ** 2) / 4, 14);
    expect(p.totalVariance).toBeCloseTo(p.variance[0] + p.variance[1] + p.variance[2], 14);
    const flat = projectQkReference({ q: [1, 2], k: [3, 4], queries: 1, keys: 1, dHead: 2 });
    expect(Array.from(flat.points)).toEqual([1, 2, 0, 3, 4, 0]);
    expect(Array.from(flat.axes)).toEqual([1, 0, 0, 1, 0, 0]);
    expect(flat.variance[2]).toBe(0);
  });

  it('keeps share 1 and the exact geometry for rank-3 data, and share in [0, 1] for full-rank data', () => {
    const d = 12;
    const rotation = randomRotation(d, 11);
    const rng = makeRng(12);
    // Queries and keys in span(u0, u1, u2) (no offset: the translation stays in the span).
    const make = (rows: number) => {
      const x = new Float64Array(rows * d);
      for (let r = 0; r < rows; r++) {
        const c = [3 * (rng() - 0.5), 2 * (rng() - 0.5), rng() - 0.5];
        for (let i = 0; i < d; i++) x[r * d + i] = c[0] * rotation[i] + c[1] * rotation[d + i] + c[2] * rotation[2 * d + i];
      }
      return x;
    };
    const q = make(20);
    const k = make(30);
    const p = projectQkReference({ q, k, queries: 20, keys: 30, dHead: d });
    expect(p.raw).toBe(false);
    expect(p.share).toBeCloseTo(1, 12);
    // Distances between normalised points survive the projection exactly.
    const { shift, scale } = p.normalisation;
    const norm = (r: number) => Array.from({ length: d }, (_, i) => (r < 20 ? q[r * d + i] * scale : (k[(r - 20) * d + i] + shift[i]) / scale));
    for (const [a, b] of [[0, 1], [3, 25], [21, 49]]) {
      const x = norm(a);
      const y = norm(b);
      const far = Math.hypot(...x.map((xi, i) => xi - y[i]));
      const near = Math.hypot(...[0, 1, 2].map((c) => p.points[a * 3 + c] - p.points[b * 3 + c]));
      expect(near).toBeCloseTo(far, 12);
    }
    const full = projectQkReference({ q: Array.from({ length: 40 * d }, () => rng()), k: Array.from({ length: 40 * d }, () => rng()), queries: 40, keys: 40, dHead: d });
    expect(full.share).toBeGreaterThan(0);
    expect(full.share).toBeLessThan(1);
    expect(full.variance[0]).toBeGreaterThanOrEqual(full.variance[1]);
    expect(full.variance[1]).toBeGreaterThanOrEqual(full.variance[2]);
  });

  it('centres the points on μ, projects values raw about their own mean, and orders queries, keys, values', () => {
    const d = 6;
    const rng = makeRng(5);
    const q = Array.from({ length: 8 * d }, () => rng() * 2 - 1);
    const k = Array.from({ length: 5 * d }, () => rng() * 2 + 1);
    const v = Array.from({ length: 5 * d }, () => rng() * 4 - 3);
    const p = projectQkReference({ q, k, v, queries: 8, keys: 5, dHead: d });
    expect([p.queries, p.keys, p.values, p.points.length]).toEqual([8, 5, 5, 18 * 3]);
    // The joint cloud is centred: its coordinates sum to 0 on every axis; so are the values'.
    for (let c = 0; c < 3; c++) {
      let qk = 0;
      let values = 0;
      for (let r = 0; r < 13; r++) qk += p.points[r * 3 + c];
      for (let r = 13; r < 18; r++) values += p.points[r * 3 + c];
      expect(qk).toBeCloseTo(0, 12);
      expect(values).toBeCloseTo(0, 12);
    }
    // A value's coordinate is (v − mean(v))·e, with the raw v.
    const meanV = Array.from({ length: d }, (_, i) => [0, 1, 2, 3, 4].reduce((s, r) => s + v[r * d + i], 0) / 5);
    const expected = Array.from({ length: d }, (_, i) => v[2 * d + i] - meanV[i]).reduce((s, x, i) => s + x * p.axes[d + i], 0);
    expect(p.points[(13 + 2) * 3 + 1]).toBeCloseTo(expected, 13);
    // The axes are orthonormal.
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(dot(p.axes, p.axes, d, a, b)).toBeCloseTo(a === b ? 1 : 0, 13);
  });

  it('shows one query and one key (which the translation makes equal) at the origin on the standard basis', () => {
    const p = projectQkReference({ q: [1, 2, 3, 4, 5], k: [-2, 0.5, 7, 1, 1], queries: 1, keys: 1, dHead: 5 });
    expect(Array.from(p.axes)).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect([p.totalVariance, p.share, ...p.variance]).toEqual([0, 1, 0, 0, 0]);
    for (const x of p.points) expect(Math.abs(x)).toBeLessThan(1e-12);
  });

  it('names the field, the value given and what is allowed for bad input', () => {
    const good = { q: [1, 2, 3, 4], k: [1, 2, 3, 4], queries: 1, keys: 1, dHead: 4 };
    const count = thrown(AttentionInputError, () => projectQkReference({ ...good, queries: 1.5 }));
    expect([count.field, count.given]).toEqual(['queries', '1.5']);
    expect(count.allowed).toMatch(/integer ≥ 1/);
    expect(thrown(AttentionInputError, () => projectQkReference({ ...good, keys: 0 })).field).toBe('keys');
    expect(thrown(AttentionInputError, () => projectQkReference({ ...good, dHead: 0 })).field).toBe('dHead');
    const length = thrown(AttentionInputError, () => projectQkReference({ ...good, k: [1, 2, 3] }));
    expect([length.field, length.given, length.kind]).toEqual(['k', 'length 3', 'length']);
    expect(length.message).toMatch(/1 × 4 = 4/);
    expect(thrown(AttentionInputError, () => projectQkReference({ ...good, v: [1, 2] })).field).toBe('v');
    const nan = thrown(AttentionInputError, () => projectQkReference({ ...good, q: [1, NaN, 3, 4] }));
    expect([nan.field, nan.given, nan.kind]).toEqual(['q[1]', 'NaN', 'non-finite']);
    expect(thrown(AttentionInputError, () => qkNormalisation([1], [Infinity], 1, 1, 1)).field).toBe('k[0]');
  });
});
