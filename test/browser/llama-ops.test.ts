// The Llama family's kernels (src/kernels/llama-ops.ts, issue 18) against the f64 forward
// reference of src/model/llama-reference.ts: RMSNorm against a layer's `norm1`, and the rotary
// positions against `q` and `k` (from `qPre`, `kPre`) of a grouped-query model (4 query heads
// over 2 key/value heads, head_dim 6 ≠ d_model / heads) with Llama 3's scaling in all three
// frequency bands; then positions far out in a long context, where the table's f64 angles matter.
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { readFloats } from '../../src/gpu/readback';
import { ropeTable, ropeUniform, runRmsNorm, runRope } from '../../src/kernels/llama-ops';
import { llamaForwardReference, llamaTensorShapes, type LlamaConfig } from '../../src/model/llama-reference';
import { applyRope, ropeInverseFrequencies } from '../../src/model/rope';
import { makeRng, makeUniform } from '../../src/reference/random';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();

/** 4 query heads over 2 key/value heads, head_dim 6, llama3 scaling whose bands split head_dim's 3 frequencies. */
const CONFIG: LlamaConfig = {
  modelType: 'llama',
  vocabSize: 40,
  context: 4096,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 6,
  layers: 1,
  dMlp: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  // Wavelengths 2π, 2π·10000^(1/3) ≈ 135 and 2π·10000^(2/3) ≈ 2916: with original context 512,
  // high 4 (below 128: kept), low 1 (above 512: divided by 8), the middle one blended.
  ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 512 },
  tiedEmbeddings: true,
  qkvBias: false,
  oBias: false,
};

function randomParams(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  const params = new Map<string, Float32Array>();
  for (const [name, shape] of llamaTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, name.endsWith('norm.weight') || name.endsWith('layernorm.weight') ? Float32Array.from(makeUniform(rng, size), (v) => 1 + 0.5 * v) : makeUniform(rng, size, 0.5));
  }
  return params;
}

function upload(data: Float32Array, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
  const buffer = gpu().createBuffer({ size: Math.max(16, data.byteLength), usage });
  gpu().queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Largest |actual − expected| as a fraction of the largest |expected| (f32 against f64). */
function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

describe('Llama kernels against the f64 reference', () => {
  const T = 37;
  const tokens = Array.from({ length: T }, (_, t) => (t * 7 + 3) % CONFIG.vocabSize);
  const params = randomParams(CONFIG, 11);
  const trace = llamaForwardReference(CONFIG, params, tokens);
  const layer = trace.layers[0];

  it('RMSNorm equals the reference layer’s norm1 (x / √(mean x² + ε) · weight)', async () => {
    const x = upload(Float32Array.from(layer.input));
    const weight = upload(params.get('model.layers.0.input_layernorm.weight')!);
    const y = upload(new Float32Array(T * CONFIG.dModel));
    try {
      await runRmsNorm(gpu(), { x, weight, y, rows: T, dim: CONFIG.dModel, eps: CONFIG.rmsNormEps });
      const [got] = await readFloats(gpu(), [[y, 0, T * CONFIG.dModel]], 'test/rms norm');
      expect(maxRelError(got, layer.norm1)).toBeLessThan(1e-5);
    } finally {
      for (const b of [x, weight, y]) b.destroy();
    }
  });

  it('RoPE on packed q | k (4 query heads over 2 kv heads, head_dim 6, llama3 bands) equals the reference q and k', async () => {
    const { headDim, heads, kvHeads } = CONFIG;
    const qWidth = heads * headDim;
    const kWidth = kvHeads * headDim;
    // q rows, then k rows at an offset that is not a multiple of the row (as a packed buffer might have).
    const kOffset = T * qWidth + 5;
    const packed = new Float32Array(kOffset + T * kWidth);
    packed.set(Float32Array.from(layer.qPre), 0);
    packed.set(Float32Array.from(layer.kPre), kOffset);
    const x = upload(packed);
    const table = upload(ropeTable(trace.invFreq, T));
    try {
      await runRope(gpu(), { x, table, layout: { rows: T, headDim, qHeads: heads, kvHeads, qOffset: 0, kOffset, qStride: qWidth, kStride: kWidth } });
      const [q, k] = await readFloats(gpu(), [[x, 0, T * qWidth], [x, kOffset, T * kWidth]], 'test/rope');
      expect(maxRelError(q, layer.q)).toBeLessThan(1e-5);
      expect(maxRelError(k, layer.k)).toBeLessThan(1e-5);
      // The five elements between q and k are left alone.
      const [gap] = await readFloats(gpu(), [[x, T * qWidth, 5]], 'test/rope gap');
      expect(Array.from(gap)).toEqual([0, 0, 0, 0, 0]);
    } finally {
      x.destroy();
      table.destroy();
    }
  });

  it('far into a long context (positions 100000…): the f64 table keeps the rotation exact to f32', async () => {
    const headDim = 8;
    const invFreq = ropeInverseFrequencies({ headDim, ropeTheta: 500000, ropeScaling: CONFIG.ropeScaling });
    const rows = 3;
    const first = 100000;
    // One query head and one key head, k rows right after the q rows.
    const data = makeUniform(makeRng(5), 2 * rows * headDim);
    const x = upload(data);
    const table = upload(ropeTable(invFreq, rows, first));
    try {
      await runRope(gpu(), { x, table, layout: { rows, headDim, qHeads: 1, kvHeads: 1, qOffset: 0, kOffset: rows * headDim, qStride: headDim, kStride: headDim } });
      const [got] = await readFloats(gpu(), [[x, 0, 2 * rows * headDim]], 'test/rope far');
      const positions = Array.from({ length: rows }, (_, t) => first + t);
      const q = applyRope(data.subarray(0, rows * headDim), positions, headDim, invFreq);
      const k = applyRope(data.subarray(rows * headDim), positions, headDim, invFreq);
      expect(maxRelError(got.subarray(0, rows * headDim), q)).toBeLessThan(2e-6);
      expect(maxRelError(got.subarray(rows * headDim), k)).toBeLessThan(2e-6);
    } finally {
      x.destroy();
      table.destroy();
    }
  });

  it('refuses an odd head size and strides narrower than the heads, naming the field', () => {
    const base = { rows: 2, headDim: 6, qHeads: 2, kvHeads: 1, qOffset: 0, kOffset: 24, qStride: 12, kStride: 6 };
    expect(() => ropeUniform({ ...base, headDim: 5 })).toThrow(AttentionInputError);
    expect(() => ropeUniform({ ...base, headDim: 5 })).toThrow(/headDim/);
    expect(() => ropeUniform({ ...base, qStride: 11 })).toThrow(/qStride/);
    expect(() => ropeUniform({ ...base, kStride: 5 })).toThrow(/kStride/);
    expect(() => ropeTable(new Float64Array(3), 0)).toThrow(/rows/);
  });
});
