/**
 * Seeded pseudo-random numbers, so every example, test and benchmark input can be reproduced
 * from a seed on any machine (Node or browser).
 */
import { resolveShape, type AttentionInputs, type AttentionShape } from '../core/types';

/** A generator of floats in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit state generator with good statistical quality for visual and testing
 * purposes (not cryptographic). The same seed gives the same sequence everywhere.
 */
export function makeRng(seed: number): Rng {
  let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Float32Array of `length` values uniform in [−scale, scale). */
export function makeUniform(rng: Rng, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

/**
 * Random inputs for a shape: x (and xKV when kvLen ≠ seqLen) uniform in [−1, 1), weights
 * uniform in [−w, w) with w = √(3/dModel), so each entry of Q and K has variance ≈ 1/3·…
 * of order 1 and the scores neither vanish nor saturate the softmax.
 */
export function makeRandomInputs(shape: AttentionShape, seed: number): AttentionInputs {
  const s = resolveShape(shape);
  const rng = makeRng(seed);
  const weightScale = Math.sqrt(3 / s.dModel);
  const x = makeUniform(rng, s.seqLen * s.dModel);
  const inputs: AttentionInputs = {
    x,
    wq: makeUniform(rng, s.dModel * s.width, weightScale),
    wk: makeUniform(rng, s.dModel * s.width, weightScale),
    wv: makeUniform(rng, s.dModel * s.width, weightScale),
  };
  if (s.kvLen !== s.seqLen) inputs.xKV = makeUniform(rng, s.kvLen * s.dModel);
  return inputs;
}
