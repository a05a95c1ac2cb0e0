import { describe, expect, it } from 'vitest';
import { attentionCpu, compareArrays, makeRandomInputs, maxRowSumError, verifyAttention } from '../../src/index';

describe('compareArrays', () => {
  it('reports the largest errors and where they are', () => {
    const c = compareArrays([1, 2.5, 3, -4], [1, 2, 3, -4.1], { atol: 0.01, rtol: 0 });
    expect(c.maxAbsErr).toBeCloseTo(0.5, 12);
    expect(c.maxRelErr).toBeCloseTo(0.25, 12);
    expect(c.worstIndex).toBe(1);
    expect(c.worstActual).toBe(2.5);
    expect(c.worstExpected).toBe(2);
    expect(c.failures).toBe(2);
    expect(c.pass).toBe(false);
    expect(c.maxAbsExpected).toBeCloseTo(4.1, 12);
  });

  it('passes within atol + rtol·|expected|', () => {
    const c = compareArrays([100.05, 0.0001], [100, 0], { atol: 0.001, rtol: 1e-3 });
    expect(c.pass).toBe(true);
    expect(c.failures).toBe(0);
  });

  it('counts equal −∞ (masked scores) as exact and NaN as an infinite error', () => {
    expect(compareArrays([-Infinity, 1], [-Infinity, 1], { atol: 0, rtol: 0 }).pass).toBe(true);
    const nan = compareArrays([Number.NaN, 1], [0.5, 1], { atol: 1, rtol: 1 });
    expect(nan.pass).toBe(false);
    expect(nan.maxAbsErr).toBe(Infinity);
    expect(nan.worstIndex).toBe(0);
    const maskMismatch = compareArrays([0, 1], [-Infinity, 1], { atol: 1, rtol: 1 });
    expect(maskMismatch.pass).toBe(false);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => compareArrays([1], [1, 2], { atol: 0, rtol: 0 })).toThrow(/length 1, expected 2/);
  });
});

describe('row sums', () => {
  it('finds the row furthest from 1', () => {
    const r = maxRowSumError([0.5, 0.5, 0.2, 0.7, 1, 0], 2);
    expect(r.worstRow).toBe(1);
    expect(r.maxErr).toBeCloseTo(0.1, 12);
  });
});

describe('verifyAttention', () => {
  const shape = { seqLen: 6, dModel: 4, heads: 2, dHead: 3, causal: true };
  const expected = attentionCpu(shape, makeRandomInputs(shape, 11));

  it('passes the reference against itself with zero error', () => {
    const report = verifyAttention(shape, expected, expected);
    expect(report.pass).toBe(true);
    expect(report.stages.map((s) => s.name)).toEqual(['q', 'k', 'v', 'scores', 'weights', 'output']);
    for (const stage of report.stages) expect(stage.maxAbsErr).toBe(0);
    expect(report.rowSum.maxErr).toBeLessThan(1e-6);
  });

  it('fails a perturbed weight and points at it', () => {
    const weights = expected.weights.slice();
    weights[7] += 1e-3;
    const report = verifyAttention(shape, { weights }, expected);
    expect(report.pass).toBe(false);
    const stage = report.stages[0];
    expect(stage.name).toBe('weights');
    expect(stage.worstIndex).toBe(7);
    expect(stage.maxAbsErr).toBeCloseTo(1e-3, 6);
    expect(report.rowSum.pass).toBe(false);
  });
});
