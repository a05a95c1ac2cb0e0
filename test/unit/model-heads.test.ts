/**
 * Head scores (src/model/heads.ts) on tiny maps written out by hand, each expected value
 * worked out in the comment beside it.
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { makeRng } from '../../src/reference/random';
import {
  LABEL_THRESHOLDS,
  firstTokenShare,
  duplicateTokenScore,
  headLabels,
  inductionPairs,
  inductionScore,
  makeInductionProbe,
  meanEntropy,
  previousTokenScore,
  scoreHead,
} from '../../src/model/heads';

/** A row-major map from rows written out. */
const map = (rows: number[][]) => new Float64Array(rows.flat());

/** 4×4, every query i ≥ 1 puts all its weight on i−1 (query 0 can only see itself). */
const PREVIOUS = map([
  [1, 0, 0, 0],
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
]);

/** 4×4 uniform causal: row i is 1/(i+1) on keys 0…i. */
const UNIFORM = map([
  [1, 0, 0, 0],
  [1 / 2, 1 / 2, 0, 0],
  [1 / 3, 1 / 3, 1 / 3, 0],
  [1 / 4, 1 / 4, 1 / 4, 1 / 4],
]);

describe('previous-token score, first-token share, entropy', () => {
  it('a previous-token map', () => {
    // w[1][0] = w[2][1] = w[3][2] = 1 → (1 + 1 + 1) / 3 = 1.
    expect(previousTokenScore(PREVIOUS, 4)).toBe(1);
    // w[1][0] = 1, w[2][0] = w[3][0] = 0 → 1/3 (query 0 left out).
    expect(firstTokenShare(PREVIOUS, 4)).toBeCloseTo(1 / 3, 12);
    // One-hot rows: every entropy is 0.
    expect(meanEntropy(PREVIOUS, 4)).toBe(0);
  });

  it('the uniform causal map', () => {
    // w[1][0] + w[2][1] + w[3][2] = 1/2 + 1/3 + 1/4 = 13/12; over 3 queries: 13/36 ≈ 0.3611.
    expect(previousTokenScore(UNIFORM, 4)).toBeCloseTo(13 / 36, 12);
    // The first column holds the same values: 13/36.
    expect(firstTokenShare(UNIFORM, 4)).toBeCloseTo(13 / 36, 12);
    // Row i has entropy ln(i+1): (0 + ln 2 + ln 3 + ln 4) / 4 = ln(24) / 4 ≈ 0.7945.
    expect(meanEntropy(UNIFORM, 4)).toBeCloseTo(Math.log(24) / 4, 12);
    expect(meanEntropy(UNIFORM, 4)).toBeCloseTo(0.794513, 5);
  });

  it('a mixed 3×3 map (Float32 as the kernels give it)', () => {
    const w = new Float32Array([1, 0, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.5]);
    // previous: (w[1][0] + w[2][1]) / 2 = (0.5 + 0.25) / 2 = 0.375; first: (0.5 + 0.25) / 2 = 0.375.
    expect(previousTokenScore(w, 3)).toBeCloseTo(0.375, 7);
    expect(firstTokenShare(w, 3)).toBeCloseTo(0.375, 7);
    // Rows: 0; ln 2 ≈ 0.693147; −(2·0.25·ln 0.25 + 0.5·ln 0.5) = 1.5·ln 2 ≈ 1.039721.
    // Mean: 2.5·ln 2 / 3 ≈ 0.577623.
    expect(meanEntropy(w, 3)).toBeCloseTo((2.5 * Math.log(2)) / 3, 6);
  });

  it('seqLen 1 has no query to average: NaN; a wrong length is refused', () => {
    expect(previousTokenScore([1], 1)).toBeNaN();
    expect(firstTokenShare([1], 1)).toBeNaN();
    expect(meanEntropy([1], 1)).toBe(0);
    expect(() => previousTokenScore(PREVIOUS, 3)).toThrow(AttentionInputError);
    expect(() => meanEntropy(PREVIOUS, 0)).toThrow(AttentionInputError);
  });
});

describe('induction score', () => {
  // <eos> = 0, then R = [5, 6, 7] twice: positions 0 | 1 2 3 | 4 5 6.
  const TOKENS = [0, 5, 6, 7, 5, 6, 7];

  it('pairs each repeated token with the key after its previous occurrence', () => {
    // 5 at 4 was at 1 → key 2; 6 at 5 was at 2 → key 3; 7 at 6 was at 3 → key 4 (the second
    // copy's first token: what followed 7 the first time).
    expect(inductionPairs(TOKENS)).toEqual([
      { query: 4, key: 2 },
      { query: 5, key: 3 },
      { query: 6, key: 4 },
    ]);
    // "the cat sat on the mat": only the second "the" (4) repeats; it was at 0 → key 1 ("cat").
    expect(inductionPairs([1, 2, 3, 4, 1, 5])).toEqual([{ query: 4, key: 1 }]);
    // The latest earlier occurrence counts: 9 at 2 was last at 1 → key 2 (itself).
    expect(inductionPairs([9, 9, 9])).toEqual([
      { query: 1, key: 1 },
      { query: 2, key: 2 },
    ]);
  });

  it('is 1 for a perfect induction head, 0 for a previous-token head, in between for a mixture', () => {
    const n = TOKENS.length;
    const perfect = new Float64Array(n * n);
    const previous = new Float64Array(n * n);
    perfect[0] = previous[0] = 1;
    for (let i = 1; i < n; i++) {
      previous[i * n + i - 1] = 1;
      // Induction rows 4, 5, 6 → keys 2, 3, 4; other rows on themselves.
      perfect[i * n + (i >= 4 ? i - 2 : i)] = 1;
    }
    expect(inductionScore(perfect, TOKENS)).toBe(1);
    // The previous-token head looks at 3, 4, 5 from 4, 5, 6: never the induction key.
    expect(inductionScore(previous, TOKENS)).toBe(0);
    // Half of each: (0.5 + 0.5 + 0.5) / 3 = 0.5.
    const half = perfect.map((v, k) => 0.5 * v + 0.5 * previous[k]);
    expect(inductionScore(half, TOKENS)).toBeCloseTo(0.5, 12);
    // The uniform causal map: rows 4, 5, 6 give 1/5, 1/6, 1/7 → (1/5 + 1/6 + 1/7) / 3 = 107/630.
    const uniform = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) uniform[i * n + j] = 1 / (i + 1);
    expect(inductionScore(uniform, TOKENS)).toBeCloseTo(107 / 630, 12);
  });

  it('is NaN when no token repeats', () => {
    expect(inductionScore(UNIFORM, [0, 1, 2, 3])).toBeNaN();
    expect(() => inductionScore(UNIFORM, [0, 1, 2])).toThrow(AttentionInputError);
  });
});

describe('makeInductionProbe', () => {
  it('builds [first] + prefix + R + R from distinct tokens, with the pairs of the second copy', () => {
    const probe = makeInductionProbe(makeRng(1), 20, 5, { first: 0, avoid: [1, 2], prefixLength: 2 });
    const { tokens, pairs, spanStart, spanLength } = probe;
    expect(tokens.length).toBe(1 + 2 + 5 + 5);
    expect(tokens[0]).toBe(0);
    expect(spanStart).toBe(3);
    expect(spanLength).toBe(5);
    const drawn = tokens.slice(1, spanStart + spanLength);
    expect(new Set(drawn).size).toBe(drawn.length);
    for (const t of drawn) {
      expect(t).toBeGreaterThanOrEqual(3);
      expect(t).toBeLessThan(20);
    }
    expect(tokens.slice(8)).toEqual(tokens.slice(3, 8));
    // Queries 8…12 → keys 4…8 (s + L + m → s + m + 1 with s = 3, L = 5).
    expect(pairs).toEqual([8, 9, 10, 11, 12].map((q) => ({ query: q, key: q - 4 })));
    expect(makeInductionProbe(makeRng(1), 20, 5, { first: 0, avoid: [1, 2], prefixLength: 2 })).toEqual(probe);
  });

  it('draws from a pool, can start without a first token, and refuses spans longer than the pool', () => {
    const probe = makeInductionProbe(makeRng(2), 100, 3, { first: null, pool: [10, 11, 12] });
    expect(probe.spanStart).toBe(0);
    expect([...probe.tokens.slice(0, 3)].sort()).toEqual([10, 11, 12]);
    expect(() => makeInductionProbe(makeRng(2), 100, 4, { pool: [10, 11, 12] })).toThrow(AttentionInputError);
    // Default: first token 0, never drawn again.
    const d = makeInductionProbe(makeRng(3), 6, 5);
    expect(d.tokens[0]).toBe(0);
    expect(d.tokens.slice(1)).not.toContain(0);
  });
});

describe('scoreHead and headLabels', () => {
  it('scoreHead gathers the five numbers', () => {
    const scores = scoreHead(PREVIOUS, [0, 1, 2, 1]);
    // Token 1 at 3 was at 1 → induction key 2, w[3][2] = 1; its duplicate (key 1) gets w[3][1] = 0.
    expect(scores).toEqual({ previousToken: 1, induction: 1, duplicateToken: 0, firstToken: 1 / 3, entropy: 0 });
  });

  it('duplicateTokenScore sums the weight on every earlier copy of the query token', () => {
    // Tokens [5, 7, 5, 5]: query 2 has one earlier 5 (key 0), query 3 two (keys 0 and 2).
    // UNIFORM: w[2][0] = 1/3; w[3][0] + w[3][2] = 1/2 → mean (1/3 + 1/2) / 2 = 5/12.
    expect(duplicateTokenScore(UNIFORM, [5, 7, 5, 5])).toBeCloseTo(5 / 12, 12);
    // PREVIOUS: w[2][0] = 0, w[3][0] + w[3][2] = 1 → 1/2.
    expect(duplicateTokenScore(PREVIOUS, [5, 7, 5, 5])).toBeCloseTo(1 / 2, 12);
    expect(duplicateTokenScore(UNIFORM, [0, 1, 2, 3])).toBeNaN();
    expect(() => duplicateTokenScore(UNIFORM, [1, 2, 3])).toThrow(AttentionInputError);
  });

  it('labels the scores at or above their thresholds, strongest first, else the entropy', () => {
    expect(LABEL_THRESHOLDS).toEqual({ previousToken: 0.4, induction: 0.4, duplicateToken: 0.4, firstToken: 0.4 });
    expect(headLabels({ previousToken: 0.92, induction: Number.NaN, duplicateToken: Number.NaN, firstToken: 0.64, entropy: 0.3 })).toEqual(['previous-token 0.92', 'first-token 0.64']);
    expect(headLabels({ previousToken: 0.1, induction: 0.71, duplicateToken: 0.55, firstToken: 0.4, entropy: 1 })).toEqual(['induction 0.71', 'duplicate-token 0.55', 'first-token 0.40']);
    // The uniform 4×4 map: 13/36 ≈ 0.36 is under every threshold → its entropy, ln(24)/4 ≈ 0.79.
    expect(headLabels(scoreHead(UNIFORM, [0, 1, 2, 3]))).toEqual(['entropy 0.79 nats']);
    expect(headLabels({ previousToken: 0.5, induction: 0.2, duplicateToken: 0.3, firstToken: 0.1, entropy: 2 }, { previousToken: 0.6, induction: 0.1, duplicateToken: 0.5, firstToken: 0.9 })).toEqual(['induction 0.20']);
  });
});
