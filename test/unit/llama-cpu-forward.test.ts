/**
 * The Llama family's f32 CPU forward (src/workers/llama-cpu-forward.ts), which the app times
 * beside the GPU's, against the f64 reference's logits: grouped-query attention, head_dim ≠
 * d / heads, Llama 3 scaling, Qwen2 biases, tied and untied, across several query blocks of the
 * blocked attention; the same function called again on a shorter sequence reuses its buffers and
 * still agrees.
 */
import { describe, expect, it } from 'vitest';
import { llamaForwardReference, llamaTensorShapes, type LlamaConfig } from '../../src/model/llama-reference';
import { matmulNT } from '../../src/model/matmul';
import { makeRng, makeUniform } from '../../src/reference/random';
import { createLlamaCpuForward, prepareLlamaCpuModel } from '../../src/workers/llama-cpu-forward';

const LLAMA: LlamaConfig = {
  modelType: 'llama',
  vocabSize: 37,
  context: 256,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 6,
  layers: 2,
  dMlp: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 512 },
  tiedEmbeddings: true,
  qkvBias: false,
  oBias: false,
};
const QWEN: LlamaConfig = { ...LLAMA, modelType: 'qwen2', kvHeads: 1, headDim: 4, ropeScaling: null, tiedEmbeddings: false, qkvBias: true };

function params(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  return new Map([...llamaTensorShapes(config)].map(([name, shape]) => [name, Float32Array.from(makeUniform(rng, shape.reduce((a, b) => a * b, 1), 0.5), (v) => (/norm/.test(name) ? 1 + v : v))]));
}

function maxRel(actual: Float32Array, expected: Float64Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

describe('the Llama f32 CPU forward against the f64 reference', () => {
  for (const [what, config] of [['Llama: GQA 4/2, head_dim 6, llama3 scaling, tied', LLAMA], ['Qwen2: biases, 4 heads over 1, untied', QWEN]] as const) {
    it(what, () => {
      const p = params(config, 3);
      const forward = createLlamaCpuForward(prepareLlamaCpuModel(config, new Map(p)), matmulNT);
      // 150 tokens: three blocks of the attention's 64 queries, the last one partial.
      const long = Array.from({ length: 150 }, (_, t) => (t * 5 + 2) % config.vocabSize);
      expect(maxRel(forward(long), llamaForwardReference(config, p, long).logits)).toBeLessThan(2e-5);
      const short = long.slice(3, 10);
      expect(maxRel(forward(short), llamaForwardReference(config, p, short).logits)).toBeLessThan(2e-5);
      // logitsFrom: the last rows' logits only (a long run's whole logits would be T × vocab).
      const tail = forward(long, 140);
      expect(tail.length).toBe(10 * config.vocabSize);
      expect(maxRel(tail, llamaForwardReference(config, p, long).logits.subarray(140 * config.vocabSize))).toBeLessThan(2e-5);
    });
  }
});
