import { describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { BenchValueError, attentionBytes, attentionFlops, crossover, fitLogLogSlope, gflops, median, spread, unmaskedEntries } from '../../src/bench/metrics';
import { makeRng } from '../../src/reference/random';

describe('attentionFlops', () => {
  it('counts a small self-attention shape by hand', () => {
    // seqLen 4, dModel 3, heads 2, dHead 5 (width 10), kvLen = 4.
    // projections: 2·(4 + 2·4)·3·10 = 720; scores: 2·2·4·4·5 = 320; softmax: 5·2·4·4 = 160;
    // output: 2·2·4·4·5 = 320; total 1520.
    const f = attentionFlops({ seqLen: 4, dModel: 3, heads: 2, dHead: 5 });
    expect(f).toEqual({ projections: 720, scores: 320, softmax: 160, output: 320, total: 1520 });
  });

  it('counts cross-attention with kvLen ≠ seqLen', () => {
    // seqLen 2, kvLen 6, dModel 4, heads 1, dHead 3: proj 2·(2 + 12)·4·3 = 336; map 12 entries:
    // scores 2·12·3 = 72, softmax 60, output 72; total 540.
    const f = attentionFlops({ seqLen: 2, kvLen: 6, dModel: 4, heads: 1, dHead: 3 });
    expect(f).toEqual({ projections: 336, scores: 72, softmax: 60, output: 72, total: 540 });
  });

  it('ignores the mask by default and counts only unmasked entries when causalAware', () => {
    const shape = { seqLen: 4, dModel: 3, heads: 2, dHead: 5, causal: true };
    // By default the causal shape counts the full map, as the first test above worked out.
    expect(attentionFlops(shape)).toEqual({ projections: 720, scores: 320, softmax: 160, output: 320, total: 1520 });
    // Unmasked per head: 1 + 2 + 3 + 4 = 10 of 16. scores 2·2·10·5 = 200; softmax 5·2·10 = 100.
    expect(attentionFlops(shape, { causalAware: true })).toEqual({ projections: 720, scores: 200, softmax: 100, output: 200, total: 1220 });
  });

  it('counts unmasked entries when keys are fewer or more than queries', () => {
    // seqLen 5, kvLen 3: rows see 1, 2, 3, 3, 3 keys = 12. seqLen 3, kvLen 5: 1 + 2 + 3 = 6.
    expect(unmaskedEntries({ seqLen: 5, kvLen: 3, dModel: 1, heads: 1, dHead: 1, causal: true })).toBe(12);
    expect(unmaskedEntries({ seqLen: 3, kvLen: 5, dModel: 1, heads: 1, dHead: 1, causal: true })).toBe(6);
    expect(unmaskedEntries({ seqLen: 3, kvLen: 5, dModel: 1, heads: 1, dHead: 1 })).toBe(15);
  });
});

describe('attentionBytes', () => {
  it('counts minimum f32 traffic per stage for self-attention by hand', () => {
    // seqLen 4, dModel 3, heads 2, dHead 5 (width 10): map = 2·4·4 = 32 floats.
    // projections: read x 12 + weights 3·30 = 90, write q 40 + k 40 + v 40 → 222 floats = 888 bytes.
    // scores: read q 40 + k 40, write 32 → 112 floats = 448. softmax: 64 floats = 256.
    // output: read 32 + v 40, write 40 → 112 floats = 448. total 2040.
    expect(attentionBytes({ seqLen: 4, dModel: 3, heads: 2, dHead: 5 })).toEqual({
      projections: 888, scores: 448, softmax: 256, output: 448, total: 2040,
    });
  });

  it('reads xKV separately for cross-attention', () => {
    // seqLen 2, kvLen 6, dModel 4, heads 1, dHead 3 (width 3): map 12.
    // projections: x 8 + xKV 24 + weights 36 + q 6 + k 18 + v 18 = 110 floats = 440 bytes.
    // scores: q 6 + k 18 + map 12 = 36 → 144. softmax 24 → 96. output: 12 + v 18 + out 6 = 36 → 144.
    expect(attentionBytes({ seqLen: 2, kvLen: 6, dModel: 4, heads: 1, dHead: 3 })).toEqual({
      projections: 440, scores: 144, softmax: 96, output: 144, total: 824,
    });
  });
});

describe('gflops', () => {
  it('is FLOPs per nanosecond', () => {
    expect(gflops(2e9, 1000)).toBe(2);
    expect(gflops(3e6, 1.5)).toBe(2);
    expect(gflops(0, 5)).toBe(0);
  });
  it('refuses a non-positive time or negative FLOPs, naming the argument', () => {
    expect(() => gflops(1e9, 0)).toThrow('ms: got 0; allowed: a finite positive number');
    expect(() => gflops(1e9, -1)).toThrow(/^ms: got -1;/);
    expect(() => gflops(-1, 1)).toThrow('flops: got -1; allowed: a finite non-negative number');
    expect(() => gflops(Number.NaN, 1)).toThrow(/^flops: got NaN;/);
    expect(() => gflops(1e9, 0)).toThrow(BenchValueError);
    expect(() => gflops(1e9, 0)).toThrow(AttentionError);
  });
});

describe('fitLogLogSlope', () => {
  it('recovers y = 3·x² exactly', () => {
    const xs = [1, 2, 4, 8, 16, 100];
    const fit = fitLogLogSlope(xs, xs.map((x) => 3 * x * x));
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.coefficient).toBeCloseTo(3, 10);
    expect(fit.intercept).toBeCloseTo(Math.log(3), 12);
    expect(fit.r2).toBeCloseTo(1, 12);
  });

  it('recovers ~2 from noisy data, with r² a little below 1', () => {
    const rng = makeRng(42);
    const xs = Array.from({ length: 40 }, (_, i) => 2 ** (4 + i / 4)); // 16 … ~16k
    // ±10 % multiplicative noise: log-noise within ±0.1, over a log-x range of ~7.
    const ys = xs.map((x) => 5e-6 * x * x * (1 + (rng() * 2 - 1) * 0.1));
    const fit = fitLogLogSlope(xs, ys);
    expect(Math.abs(fit.slope - 2)).toBeLessThan(0.03);
    expect(fit.r2).toBeGreaterThan(0.99);
    expect(fit.r2).toBeLessThan(1);
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => fitLogLogSlope([1, 2, 3], [1, 2])).toThrow('ys: got 2 values; allowed: as many values as xs (3)');
    expect(() => fitLogLogSlope([1, 0, 3], [1, 2, 3])).toThrow('xs[1]: got 0; allowed: a finite positive number');
    expect(() => fitLogLogSlope([1, 2, 3], [1, -2, 3])).toThrow(/^ys\[1\]: got -2; allowed: a finite positive/);
    expect(() => fitLogLogSlope([1, 2], [1, Number.NaN])).toThrow(/^ys\[1\]/);
    expect(() => fitLogLogSlope([5], [1])).toThrow('xs: got 1 values; allowed: at least 2 values');
    expect(() => fitLogLogSlope([2, 2, 2], [1, 2, 3])).toThrow('xs: got only the value 2; allowed: at least two distinct values');
  });
});

describe('crossover', () => {
  it('finds where a steeper curve overtakes a flatter one, interpolated in log space', () => {
    // A = x² (GPU-like setup cost aside), B = 16·x: equal at x = 16, which lies between 8 and 32.
    const xs = [2, 8, 32, 128];
    const x = crossover(xs, xs.map((v) => v * v), xs.map((v) => 16 * v));
    // In log space both pieces are straight lines, so the interpolation is exact.
    expect(x).toBeCloseTo(16, 9);
  });

  it('interpolates a crossing between two measured points', () => {
    // Between x = 10 and 100: log-gap goes from ln(2) to ln(1/2), zero in the middle → x = √1000.
    expect(crossover([10, 100], [2, 50], [1, 100])).toBeCloseTo(Math.sqrt(1000), 9);
  });

  it('returns a shared point as is, and null when the curves never meet', () => {
    expect(crossover([1, 2, 4], [1, 4, 9], [2, 4, 8])).toBe(2);
    expect(crossover([1, 2, 4], [3, 3, 3], [3, 5, 8])).toBe(1);
    expect(crossover([1, 2, 4, 8], [1, 2, 4, 8], [2, 5, 9, 20])).toBeNull();
    expect(crossover([1, 2, 4, 8], [10, 20, 40, 80], [1, 4, 16, 64])).toBeNull();
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => crossover([1, 2], [1, 2, 3], [1, 2])).toThrow('ysA: got 3 values; allowed: as many values as xs (2)');
    expect(() => crossover([1, 2], [1, 2], [1])).toThrow(/^ysB: got 1 values;/);
    expect(() => crossover([1, 2], [1, 0], [1, 2])).toThrow('ysA[1]: got 0; allowed: a finite positive number');
    expect(() => crossover([-1, 2], [1, 1], [1, 2])).toThrow(/^xs\[0\]/);
    expect(() => crossover([2, 1], [1, 1], [1, 2])).toThrow('xs[1]: got 1 ≤ xs[0] = 2; allowed: strictly increasing xs');
    expect(() => crossover([], [], [])).toThrow('xs: got 0 values; allowed: at least 1 value');
  });
});

describe('median and spread', () => {
  it('median of odd and even counts, unsorted input untouched', () => {
    const values = [5, 1, 4];
    expect(median(values)).toBe(4);
    expect(values).toEqual([5, 1, 4]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('spread: quartiles interpolated, IQR and MAD by hand', () => {
    // Sorted 1, 2, 3, 4, 100: q1 at index 1 → 2, q3 at index 3 → 4, median 3.
    // |x − 3| = 2, 1, 0, 1, 97 → sorted 0, 1, 1, 2, 97 → MAD 1. One outlier moves neither.
    expect(spread([100, 3, 1, 4, 2])).toEqual({ min: 1, max: 100, median: 3, q1: 2, q3: 4, iqr: 2, mad: 1 });
    // 1, 2, 3, 4: q1 at 0.75 → 1.75, q3 at 2.25 → 3.25, median 2.5; deviations 0.5, 0.5, 1.5, 1.5 → MAD 1.
    expect(spread([4, 3, 2, 1])).toEqual({ min: 1, max: 4, median: 2.5, q1: 1.75, q3: 3.25, iqr: 1.5, mad: 1 });
  });

  it('refuses empty or non-finite input, naming it', () => {
    expect(() => median([])).toThrow('values: got 0 values; allowed: at least 1 value');
    expect(() => spread([1, Number.POSITIVE_INFINITY])).toThrow('values[1]: got Infinity; allowed: a finite number');
  });
});
