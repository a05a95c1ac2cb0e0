import { describe, expect, it } from 'vitest';
import { CAT_SAT_INPUTS, TWO_D_INPUTS, walkthrough, type WalkInputs } from '../../src/lessons/walkthrough';

/**
 * Every number the walkthrough shows, recomputed here by hand from the formulas with plain
 * loops (not with the app's code), for the lesson's inputs and for edited inputs.
 */
function byHand(w: WalkInputs): Map<string, number> {
  const d = w.x[0].length;
  const mul = (x: number[], m: number[][]) => Array.from({ length: d }, (_, c) => x.reduce((s, xi, i) => s + xi * m[i][c], 0));
  const q = w.x.map((x) => mul(x, w.wq));
  const k = w.x.map((x) => mul(x, w.wk));
  const v = w.x.map((x) => mul(x, w.wv));
  const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);
  const out = new Map<string, number>();
  w.x.forEach((x, r) => x.forEach((value, c) => out.set(`x.${w.tokens[r]}.${c}`, value)));
  for (const name of ['wq', 'wk', 'wv'] as const) w[name].forEach((row, i) => row.forEach((value, j) => out.set(`${name}.${i}.${j}`, value)));
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < d; c++) {
      out.set(`q.${w.tokens[r]}.${c}`, q[r][c]);
      out.set(`k.${w.tokens[r]}.${c}`, k[r][c]);
      out.set(`v.${w.tokens[r]}.${c}`, v[r][c]);
    }
  }
  for (let i = 0; i < 2; i++) {
    const dots = [dot(q[i], k[0]), dot(q[i], k[1])];
    const scores = dots.map((x) => x / Math.sqrt(d));
    const e = scores.map((s) => Math.exp(s));
    const weights = e.map((x) => x / (e[0] + e[1]));
    for (let j = 0; j < 2; j++) {
      out.set(`dot.${w.tokens[i]}.${w.tokens[j]}`, dots[j]);
      out.set(`score.${w.tokens[i]}.${w.tokens[j]}`, scores[j]);
      out.set(`weight.${w.tokens[i]}.${w.tokens[j]}`, weights[j]);
    }
    for (let c = 0; c < d; c++) out.set(`out.${w.tokens[i]}.${c}`, weights[0] * v[0][c] + weights[1] * v[1][c]);
  }
  return out;
}

function checkAll(w: WalkInputs): number {
  const expected = byHand(w);
  let checked = 0;
  for (const step of walkthrough(w)) {
    for (const number of step.numbers) {
      expect(expected.has(number.id), `hand value for ${number.id}`).toBe(true);
      // Inputs pass through Float32Array (as on the GPU), so agreement is to ~1e-7.
      expect(number.cpu, number.id).toBeCloseTo(expected.get(number.id)!, 6);
      checked++;
    }
  }
  return checked;
}

describe('the "cat sat" walkthrough', () => {
  it('shows seven steps whose every number matches the hand computation', () => {
    const steps = walkthrough(CAT_SAT_INPUTS);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(checkAll(CAT_SAT_INPUTS)).toBeGreaterThan(60);
  });

  it('step 4 gives Q(sat)·K(cat) = 0.2575 and Q(sat)·K(sat) = 0.408; step 6 gives 47.8% and 52.2%', () => {
    const steps = walkthrough(CAT_SAT_INPUTS);
    const find = (step: number, id: string) => steps[step - 1].numbers.find((n) => n.id === id)!.cpu;
    expect(find(4, 'dot.sat.cat')).toBeCloseTo(0.15 * 0.45 + 0.5 * 0.3 + 0.4 * 0.1, 6);
    expect(find(4, 'dot.sat.sat')).toBeCloseTo(0.15 * 0.22 + 0.5 * 0.43 + 0.4 * 0.4, 6);
    expect(find(5, 'score.sat.cat')).toBeCloseTo(0.2575 / Math.sqrt(3), 6);
    expect((find(6, 'weight.sat.cat') * 100).toFixed(1)).toBe('47.8');
    expect((find(6, 'weight.sat.sat') * 100).toFixed(1)).toBe('52.2');
    expect(steps[5].why).toContain('47.8%');
  });

  it('follows an edited embedding', () => {
    const edited: WalkInputs = { ...CAT_SAT_INPUTS, x: [[2, 0.5, 0.2], [0.3, 1.0, 0.8]] };
    checkAll(edited);
    const steps = walkthrough(edited);
    const p = steps[5].numbers.find((n) => n.id === 'weight.sat.cat')!.cpu;
    // K(cat) doubles its first component's contribution: 0.5·(2·0.8 + 0.5·0.2) = 0.85.
    const dotCat = 0.15 * 0.85 + 0.5 * (0.5 * (2 * 0.2 + 0.5 * 0.8)) + 0.4 * 0.1;
    const dotSat = 0.408;
    const expected = 1 / (1 + Math.exp((dotSat - dotCat) / Math.sqrt(3)));
    expect(p).toBeCloseTo(expected, 6);
  });
});

describe('the 2-D example', () => {
  it('matches the hand computation (Q = X·W, rows are tokens)', () => {
    checkAll(TWO_D_INPUTS);
    const steps = walkthrough(TWO_D_INPUTS);
    // K = X·W_K = [[0,1],[1,0]]: cat's key is [0,1]; Q(cat)·K(sat) = [1,0]·[1,0] = 1.
    expect(steps[3].numbers.find((n) => n.id === 'dot.cat.sat')!.cpu).toBe(1);
    expect(steps[3].numbers.find((n) => n.id === 'dot.cat.cat')!.cpu).toBe(0);
  });
});
