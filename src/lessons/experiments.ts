/**
 * The experiments the lessons pose, as plain functions of their inputs (Float64, in Node):
 * Q–V instead of Q–K–V, no √d_k scaling as d_k grows, hard vs soft attention, and identical
 * embeddings with and without positions. The lesson view renders them and runs the GPU beside.
 */
import { makeRng } from '../reference/random';
import { embedTokens } from '../inputs/examples';
import type { WalkInputs } from './walkthrough';

const matVec = (x: number[], m: number[][]) => m[0].map((_, c) => x.reduce((s, xi, i) => s + xi * m[i][c], 0));
const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);

/** Softmax of a row (max-subtracted). */
export function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((s) => Math.exp(s - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** Shannon entropy (natural log) of a probability row. */
export function entropy(p: number[]): number {
  return p.reduce((s, v) => (v > 0 ? s - v * Math.log(v) : s), 0);
}

/** One row of the Q–V experiment: W_V scaled by `factor`, and the last token's weights both ways. */
export interface QvRow {
  factor: number;
  /** softmax(Q·Kᵀ/√d) of the last token: does not depend on the values. */
  qk: number[];
  /** softmax(Q·Vᵀ/√d) of the last token: grows with the values. */
  qv: number[];
}

/**
 * Scores from Q·V instead of Q·K: scale W_V by each factor and compare the last token's
 * weights. With keys, relevance is independent of the values' size; with Q·V, bigger values
 * win attention whatever they mean.
 */
export function qvVersusQk(w: WalkInputs, factors: number[]): QvRow[] {
  const d = w.x[0].length;
  const q = w.x.map((x) => matVec(x, w.wq));
  const k = w.x.map((x) => matVec(x, w.wk));
  const last = q.length - 1;
  return factors.map((factor) => {
    const v = w.x.map((x) => matVec(x, w.wv).map((value) => value * factor));
    return {
      factor,
      qk: softmax(k.map((kj) => dot(q[last], kj) / Math.sqrt(d))),
      qv: softmax(v.map((vj) => dot(q[last], vj) / Math.sqrt(d))),
    };
  });
}

/** Mean row entropy, as a fraction of ln(keys), with and without the 1/√d_k scaling. */
export interface EntropyPoint {
  dK: number;
  scaled: number;
  unscaled: number;
}

/**
 * Random queries and keys with unit-variance entries (as a trained model's are, roughly): the
 * dot product's variance grows like d_k, so without 1/√d_k the softmax saturates to one-hot
 * (entropy → 0) as d_k grows, while the scaled rows keep the same spread.
 */
export function entropyVsDk(dKs: number[], keys = 64, queries = 32, seed = 7): EntropyPoint[] {
  return dKs.map((dK) => {
    const rng = makeRng(seed + dK);
    // Uniform on [−√3, √3) has variance 1.
    const vec = () => Array.from({ length: dK }, () => (rng() * 2 - 1) * Math.sqrt(3));
    const ks = Array.from({ length: keys }, vec);
    let scaled = 0;
    let unscaled = 0;
    for (let i = 0; i < queries; i++) {
      const q = vec();
      const raw = ks.map((kj) => dot(q, kj));
      unscaled += entropy(softmax(raw));
      scaled += entropy(softmax(raw.map((s) => s / Math.sqrt(dK))));
    }
    const norm = queries * Math.log(keys);
    return { dK, scaled: scaled / norm, unscaled: unscaled / norm };
  });
}

/** Soft attention (softmax) against hard attention (one-hot argmax) for the last token. */
export interface HardSoft {
  soft: number[];
  hard: number[];
  softOutput: number[];
  hardOutput: number[];
}

export function hardVersusSoft(w: WalkInputs): HardSoft {
  const d = w.x[0].length;
  const q = w.x.map((x) => matVec(x, w.wq));
  const k = w.x.map((x) => matVec(x, w.wk));
  const v = w.x.map((x) => matVec(x, w.wv));
  const last = q.length - 1;
  const scores = k.map((kj) => dot(q[last], kj) / Math.sqrt(d));
  const soft = softmax(scores);
  const best = scores.indexOf(Math.max(...scores));
  const hard = scores.map((_, j) => (j === best ? 1 : 0));
  const mix = (p: number[]) => v[0].map((_, c) => p.reduce((s, pj, j) => s + pj * v[j][c], 0));
  return { soft, hard, softOutput: mix(soft), hardOutput: mix(hard) };
}

/**
 * Identical words get identical embeddings, hence identical Q, K and V rows, unless positions
 * are added. Returns the largest |difference| between the rows of two equal tokens.
 */
export function identicalTokenGap(tokens: string[], first: number, second: number, dModel: number, positions: boolean): number {
  const x = embedTokens(tokens, dModel, positions);
  let gap = 0;
  for (let c = 0; c < dModel; c++) gap = Math.max(gap, Math.abs(x[first * dModel + c] - x[second * dModel + c]));
  return gap;
}
