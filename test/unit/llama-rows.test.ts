/**
 * The Llama family's per-layer row check (src/verify/llama-rows.ts through model-rows.ts's entry
 * points) fed the f64 reference's own tensors laid out as the GPU reads them back (k and v
 * repeated per query head, f32): every tensor passes; a wrong value fails the tensor it is in and
 * what reads it in that layer only; the cost is counted by hand.
 */
import { describe, expect, it } from 'vitest';
import { llamaForwardReference, llamaTensorShapes, type LlamaConfig, type LlamaTrace } from '../../src/model/llama-reference';
import { makeRng, makeUniform } from '../../src/reference/random';
import { modelRowsCost, modelRowsPlan, verifyModelRows, type ModelRowsTensors } from '../../src/verify/model-rows';

const CONFIG: LlamaConfig = {
  modelType: 'qwen2',
  vocabSize: 30,
  context: 64,
  dModel: 12,
  heads: 4,
  kvHeads: 2,
  headDim: 4,
  layers: 2,
  dMlp: 20,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  ropeScaling: null,
  tiedEmbeddings: false,
  qkvBias: true,
  oBias: false,
};

function params(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  return new Map([...llamaTensorShapes(config)].map(([name, shape]) => [name, Float32Array.from(makeUniform(rng, shape.reduce((a, b) => a * b, 1), 0.5), (v) => (/norm/.test(name) ? 1 + v : v))]));
}

/** T × kvHeads·hd → T × heads·hd, each key/value head repeated for its query heads (the GPU's layout). */
function repeat(config: LlamaConfig, kv: Float64Array, T: number): Float32Array {
  const { heads, kvHeads, headDim: hd } = config;
  const out = new Float32Array(T * heads * hd);
  for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) out.set(kv.subarray((t * kvHeads + Math.floor(h / (heads / kvHeads))) * hd, (t * kvHeads + Math.floor(h / (heads / kvHeads)) + 1) * hd), (t * heads + h) * hd);
  return out;
}

function gpuLike(trace: LlamaTrace): ModelRowsTensors {
  const T = trace.tokens.length;
  return {
    embed: Float32Array.from(trace.embed),
    layers: trace.layers.map((l) => ({
      q: Float32Array.from(l.q),
      k: repeat(CONFIG, l.k, T),
      v: repeat(CONFIG, l.v, T),
      scores: Float32Array.from(l.scores),
      weights: Float32Array.from(l.weights),
      attn: Float32Array.from(l.attn),
      resid1: Float32Array.from(l.resid1),
      resid2: Float32Array.from(l.output),
    })),
    logits: Float32Array.from(trace.logits),
  };
}

const P = params(CONFIG, 2);
const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
const TRACE = llamaForwardReference(CONFIG, P, TOKENS);
const failing = (gpu: ModelRowsTensors, rows?: number[]) =>
  verifyModelRows(CONFIG, P, gpu, TOKENS, rows)
    .rows.filter((r) => !r.comparison.pass)
    .map((r) => `${r.layer ?? '-'} ${r.name}`);

describe('the Llama row check on the reference’s own tensors', () => {
  it('every row of a short sequence, every tensor of every layer passes', () => {
    const result = verifyModelRows(CONFIG, P, gpuLike(TRACE), TOKENS);
    expect(result.sampledRows).toEqual(TOKENS.map((_, i) => i));
    expect(result.rows.map((r) => `${r.layer ?? '-'} ${r.name}`)).toEqual([
      '0 embed',
      ...[0, 1].flatMap((l) => ['q', 'k', 'v', 'scores', 'weights', 'attn', 'resid1', 'resid2'].map((n) => `${l} ${n}`)),
      '- logits',
    ]);
    expect(result.pass).toBe(true);
  });

  it('one value of layer 1’s resid1 fails resid1 there only (resid2 is recomputed from the f64 resid1)', () => {
    const gpu = gpuLike(TRACE);
    (gpu.layers[1].resid1 as Float32Array)[5 * CONFIG.dModel + 2] += 0.05;
    expect(failing(gpu)).toEqual(['1 resid1']);
  });

  it('a key of layer 0 in a repeated copy fails k and the attention rows that read it, in layer 0 only', () => {
    const gpu = gpuLike(TRACE);
    // Query head 3 reads key/value head 1's copy at columns 12…15 of row 4.
    (gpu.layers[0].k as Float32Array)[4 * 16 + 12] += 0.1;
    expect(failing(gpu)).toEqual(['0 k', '0 scores', '0 weights', '0 attn', '0 resid1', '0 resid2']);
  });

  it('counts multiply-adds per row by hand, and samples rows past the budget', () => {
    // Per row and layer: 12·(16 + 2·8) + 16·12 + 3·12·20 + 2·(r + 1)·16; per row 12·30 logits.
    expect(modelRowsCost(CONFIG, [0])).toBe(2 * (384 + 192 + 720 + 32) + 360);
    expect(modelRowsCost(CONFIG, [3])).toBe(2 * (384 + 192 + 720 + 128) + 360);
    const big: LlamaConfig = { ...CONFIG, dModel: 576, heads: 9, kvHeads: 3, headDim: 64, dMlp: 1536, layers: 30, vocabSize: 49152, context: 8192 };
    const plan = modelRowsPlan(big, 2048);
    expect(plan.mode).toBe('sampled-rows');
    expect(plan.rows[0]).toBe(0);
    expect(plan.rows[plan.rows.length - 1]).toBe(2047);
  });
});
