import { describe, expect, it } from 'vitest';
import { entropy, entropyVsDk, hardVersusSoft, identicalTokenGap, qvVersusQk, softmax } from '../../src/lessons/experiments';
import { CAT_SAT_INPUTS } from '../../src/lessons/walkthrough';

describe('lesson experiments', () => {
  it('softmax and entropy on hand values', () => {
    const p = softmax([0, Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(p[1]).toBeCloseTo(0.75, 12);
    expect(entropy([0.5, 0.5])).toBeCloseTo(Math.log(2), 12);
    expect(entropy([1, 0])).toBe(0);
  });

  it('Q·K weights ignore the size of the values; Q·V weights follow it', () => {
    const rows = qvVersusQk(CAT_SAT_INPUTS, [1, 8]);
    // Q·K for sat: the lesson's 47.8% / 52.2% at any factor.
    for (const row of rows) {
      expect(row.qk[0]).toBeCloseTo(0.4783, 4);
    }
    // By hand: V = 0.8·f·x, Q(sat) = [0.15, 0.5, 0.4]; Q(sat)·V(cat) = 0.8f·(0.15 + 0.25 + 0.08) = 0.384f,
    // Q(sat)·V(sat) = 0.8f·(0.045 + 0.5 + 0.32) = 0.692f.
    for (const row of rows) {
      const a = (0.384 * row.factor) / Math.sqrt(3);
      const b = (0.692 * row.factor) / Math.sqrt(3);
      expect(row.qv[0]).toBeCloseTo(1 / (1 + Math.exp(b - a)), 10);
    }
    expect(rows[1].qv[1]).toBeGreaterThan(0.8);
  });

  it('without 1/√d_k the softmax saturates as d_k grows; with it the spread holds', () => {
    const points = entropyVsDk([4, 64, 1024]);
    expect(points[2].unscaled).toBeLessThan(0.2);
    expect(points[0].unscaled).toBeGreaterThan(points[2].unscaled);
    for (const p of points) expect(p.scaled).toBeGreaterThan(0.6);
    expect(Math.abs(points[0].scaled - points[2].scaled)).toBeLessThan(0.15);
  });

  it('hard attention picks one value; soft attention mixes both', () => {
    const r = hardVersusSoft(CAT_SAT_INPUTS);
    expect(r.hard).toEqual([0, 1]);
    // Hard: V(sat) = 0.8·[0.3, 1, 0.8].
    r.hardOutput.forEach((v, c) => expect(v).toBeCloseTo(0.8 * [0.3, 1, 0.8][c], 12));
    // Soft: the lesson's weights for sat, p(cat) = 1 / (1 + e^((0.408 − 0.2575)/√3)) ≈ 0.4783.
    const p = 1 / (1 + Math.exp((0.408 - 0.2575) / Math.sqrt(3)));
    expect(r.soft[0]).toBeCloseTo(p, 10);
    expect(r.soft[1]).toBeCloseTo(1 - p, 10);
    r.softOutput.forEach((v, c) => expect(v).toBeCloseTo(0.8 * (p * [1, 0.5, 0.2][c] + (1 - p) * [0.3, 1, 0.8][c]), 12));
  });

  it('identical words embed identically until positions are added', () => {
    const tokens = ['the', 'cat', 'and', 'the', 'cat'];
    expect(identicalTokenGap(tokens, 1, 4, 16, false)).toBe(0);
    expect(identicalTokenGap(tokens, 1, 4, 16, true)).toBeGreaterThan(0.1);
  });
});
