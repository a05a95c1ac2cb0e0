// The onnxruntime-web peer of the model bench (src/bench/peer-ort.ts) on ORT's WebGPU execution
// provider, in the page as the bench runs it: the ONNX graph of gpt2-onnx.ts on a small random
// model of odd sizes gives the logits of the f64 forward reference (src/model/forward-reference.ts,
// an independent implementation in double) within float32 tolerance, at several lengths through
// one session (the free dimension T); the timing fences on ORT's device; a model whose parameters
// do not match the config is refused before ORT sees it.
import { afterAll, describe, expect, it } from 'vitest';
import { GPT2_ONNX_IO } from '../../src/bench/gpt2-onnx';
import { createOrtPeer, type OrtPeer } from '../../src/bench/peer-ort';
import { forwardReference } from '../../src/model/forward-reference';
import { ModelParamsError, type GptConfig, type GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { gaussian, initParams } from '../../src/train/init';
import { compareArrays } from '../../src/verify/compare';

const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 3, dMlp: 50 };

/** A random model with non-trivial biases and gains and a softmax that is not flat (as model-cpu.test.ts). */
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

const params = oddParams(11);
let peer: OrtPeer | null = null;

afterAll(async () => {
  await peer?.dispose();
});

describe('onnxruntime-web WebGPU EP on the GPT-2 graph', () => {
  it('gives the f64 reference logits at 37, 11 and 1 tokens from one session', async () => {
    peer = await createOrtPeer(ODD, params, { provider: 'webgpu' });
    expect(peer.provider).toBe('webgpu');
    expect(peer.modelBytes).toBeGreaterThan(4 * 10_000);
    const rng = makeRng(5);
    for (const T of [37, 11, 1]) {
      const tokens = Array.from({ length: T }, () => Math.floor(rng() * ODD.vocabSize));
      const run = await peer.forward(tokens, { logits: true });
      const expected = forwardReference(ODD, params, tokens).logits;
      expect(run.logits, GPT2_ONNX_IO.logits).toHaveLength(T * ODD.vocabSize);
      let scale = 0;
      for (const v of expected) scale = Math.max(scale, Math.abs(v));
      // f32 storage and sums over depths up to dMlp, as the model CPU test's bound.
      const c = compareArrays(run.logits!, expected, { atol: 2e-5 * scale, rtol: 1e-4 });
      expect(c.failures, `${T} tokens: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(0);
      expect(scale).toBeGreaterThan(1);
      expect(run.ms).toBeGreaterThan(0);
      console.info(`[peer-ort] ${T} tokens: max |Δ| ${c.maxAbsErr.toExponential(2)} of max |logit| ${scale.toFixed(2)}, ${run.ms.toFixed(1)} ms`);
    }
  });

  it('times a run without reading the logits back', async () => {
    const run = await peer!.forward([1, 2, 3, 4], { logits: false });
    expect(run.logits).toBeNull();
    expect(run.ms).toBeGreaterThan(0);
  });

  it('refuses parameters that do not match the config before starting ORT', async () => {
    const short = new Map(params);
    short.set('h.1.mlp.c_fc.bias', new Float32Array(49));
    await expect(createOrtPeer(ODD, short)).rejects.toThrow(ModelParamsError);
    await expect(createOrtPeer(ODD, short)).rejects.toThrow(/params\["h\.1\.mlp\.c_fc\.bias"\]: got length 49; allowed: length 50/);
  });
});
