// The CPU forward the model CPU worker times (src/workers/model-cpu-forward.ts): bit for bit
// forwardPass's logits (src/model/forward.ts, which transposes the weights on every call and keeps
// every layer's activations) through the same kernel, and within float32 rounding of the f64
// forward reference, at several lengths in one reused set of buffers.
import { describe, expect, it } from 'vitest';
import { createActivations, forwardPass } from '../../src/model/forward';
import { forwardReference } from '../../src/model/forward-reference';
import { matmulNT, Scratch, type MatmulKernel } from '../../src/model/matmul';
import { byRole, paramShapes, type GptConfig, type GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { gaussian, initParams } from '../../src/train/init';
import { sharedSimdMatmul } from '../../src/train/simd-matmul';
import { compareArrays } from '../../src/verify/compare';
import { createCpuForward, prepareCpuModel } from '../../src/workers/model-cpu-forward';

const ODD: GptConfig = { vocabSize: 31, context: 41, dModel: 36, heads: 3, layers: 3, dMlp: 58 };

/** Random parameters with biases, gains away from 1 and a softmax that is not flat. */
function oddParams(seed: number): GptParams {
  const params = initParams(ODD, seed);
  const normal = gaussian(makeRng(seed + 1));
  for (const [name, data] of params) {
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.3 * normal();
    else if (/ln_(1|2|f)\.weight$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * normal();
    else if (name.endsWith('c_attn.weight')) for (let i = 0; i < data.length; i++) data[i] *= 12;
    else if (name === 'wte.weight') for (let i = 0; i < data.length; i++) data[i] *= 25;
  }
  return params;
}

/** forwardPass's logits (every layer kept, weights transposed per call) through `matmul`. */
function forwardPassLogits(params: GptParams, tokens: number[], matmul: MatmulKernel): Float32Array {
  const acts = createActivations(ODD, 1, tokens.length);
  acts.inputs.set(tokens);
  forwardPass(ODD, byRole(ODD, params), acts, new Scratch((n) => new Float32Array(n), matmul), 1, tokens.length);
  return acts.logits as Float32Array;
}

const params = oddParams(3);
const sequences = [41, 9, 1, 41, 23].map((n, s) => Array.from({ length: n }, (_, i) => (i * (s + 5) + 2 * s + 1) % ODD.vocabSize));
const kernels: Array<[string, MatmulKernel]> = [
  ['matmulNT', matmulNT],
  ['wasm f32 lanes', sharedSimdMatmul('f32')!],
];

describe('the CPU forward of the model CPU worker', () => {
  it('has WebAssembly SIMD here (the kernel the worker times)', () => {
    expect(kernels[1][1]).not.toBeNull();
  });

  for (const [label, matmul] of kernels) {
    it(`equals forwardPass bit for bit through ${label}, and the f64 reference within float32 rounding, at 41, 9, 1, 41, 23 tokens`, () => {
      const forward = createCpuForward(prepareCpuModel(ODD, new Map(params)), matmul);
      for (const tokens of sequences) {
        const logits = forward(tokens);
        expect(logits).toHaveLength(tokens.length * ODD.vocabSize);
        expect(Array.from(logits)).toEqual(Array.from(forwardPassLogits(params, tokens, matmul)));
        const reference = forwardReference(ODD, params, tokens).logits;
        let scale = 0;
        for (const v of reference) scale = Math.max(scale, Math.abs(v));
        expect(scale).toBeGreaterThan(1);
        const c = compareArrays(logits, reference, { atol: 2e-5 * scale, rtol: 1e-4 });
        expect(c.failures, `${tokens.length} tokens: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(0);
      }
    });
  }

  it('transposes each Conv1D weight to [out, in] and, with release, takes it out of the map', () => {
    const map = new Map(params);
    const model = prepareCpuModel(ODD, map, true);
    const w = params.get('h.1.mlp.c_fc.weight')!; // [d, dMlp]
    const wT = model.blocks[1].fcWT; // [dMlp, d]
    expect(wT[5 * ODD.dModel + 7]).toBe(w[7 * ODD.dMlp + 5]);
    expect(model.blocks[2].projWT[3 * ODD.dModel + 4]).toBe(params.get('h.2.attn.c_proj.weight')![4 * ODD.dModel + 3]);
    const released = [...paramShapes(ODD).keys()].filter((name) => !map.has(name));
    expect(released).toEqual([0, 1, 2].flatMap((l) => ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((m) => `h.${l}.${m}.weight`)));
    // Without release the caller's map is untouched.
    const kept = new Map(params);
    prepareCpuModel(ODD, kept);
    expect(kept.size).toBe(params.size);
  });
});
