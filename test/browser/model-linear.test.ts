// The model's linear kernels (src/kernels/model-linear.ts) in every variant — the register
// tiles, the lane tiles (several team blocks) and the workgroup-memory blocks, each forced
// through the tuning argument — against an f64 CPU matmul written here, over shapes whose rows,
// inDim and outDim are multiples of no tile: y = x·W + b, GELU(x·W + b) (GPT-2's tanh form),
// residual + x·W + b, and the logits x·wteᵀ with wte as outDim × inDim. Then the whole forward
// pass with each variant (logits and the last block against forwardReference), and the run
// option keep: 'weights' (one scratch scores buffer for all layers).
//
// Tolerance |gpu − ref| ≤ 2e-5 + 1e-5·|ref|: inputs are f32 values (the reference sums the same
// values in f64), so the error is the f32 accumulation's, about n·2⁻²⁴ relative to Σ|x·w| for
// n ≤ 131 terms of |x·w| < 1 (≤ 1e-5), with 2× room; the GELU and the bias add one rounding each.
import { afterAll, describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { encodePass } from '../../src/gpu/pipeline';
import { readFloats } from '../../src/gpu/readback';
import { createGpuModel, MODEL_LAYER_TENSORS, type ModelReadName } from '../../src/kernels/model';
import { createLinearKernels, type ModelLinearKernels } from '../../src/kernels/model-linear';
import { LINEAR_LAYOUT, packRows } from '../../src/kernels/model-weights';
import { LANE_TUNING, SOFTWARE_TUNING, hasFourLaneSubgroups, type AttentionTuning } from '../../src/kernels/tuning';
import { forwardReference } from '../../src/model/forward-reference';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { initParams } from '../../src/train/init';
import { compareArrays } from '../../src/verify/compare';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();

const TOLERANCE = { atol: 2e-5, rtol: 1e-5 };

/** The variants, forced through the tuning (lane tiles only where the adapter has 4-lane subgroups). */
function variants(): Array<[string, AttentionTuning]> {
  const all: Array<[string, AttentionTuning]> = [
    ['registers', { ...SOFTWARE_TUNING, linear: { kind: 'registers' } }],
    ['workgroup', { ...SOFTWARE_TUNING, linear: { kind: 'workgroup' } }],
  ];
  if (hasFourLaneSubgroups(gpu())) {
    // The tuned tile, the smallest and a wide one (each tile compiles four pipelines: seconds on SwiftShader).
    for (const [rows, cols] of [[32, 32], [4, 4], [8, 64]]) all.push([`lanes ${rows}×${cols}`, { ...LANE_TUNING, linear: { kind: 'lanes', tile: { rows, cols } } }]);
  }
  return all;
}

const worst: Record<string, number> = {};
afterAll(() => {
  console.info('[linear] worst absolute error per variant (GPU f32 vs f64):');
  for (const [name, err] of Object.entries(worst)) console.info(`  ${name.padEnd(28)} ${err.toExponential(2)}`);
});

/** Values in [−1, 1) rounded to f32, so the reference multiplies exactly what the GPU gets. */
function randomF32(rng: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rng() - 1);
}

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

type Epilogue = 'bias' | 'gelu' | 'residual' | 'logits';

/** The f64 product: W is inDim × outDim, or outDim × inDim for the logits. */
function reference(epilogue: Epilogue, x: Float32Array, w: Float32Array, bias: Float32Array, residual: Float32Array, rows: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < outDim; c++) {
      let sum = 0;
      for (let k = 0; k < inDim; k++) sum += x[r * inDim + k] * (epilogue === 'logits' ? w[c * inDim + k] : w[k * outDim + c]);
      if (epilogue !== 'logits') sum += bias[c];
      if (epilogue === 'gelu') sum = gelu(sum);
      if (epilogue === 'residual') sum += residual[r * outDim + c];
      y[r * outDim + c] = sum;
    }
  }
  return y;
}

/** Run one linear kernel once on fresh buffers and read y back. */
async function runKernel(kernels: ModelLinearKernels, epilogue: Epilogue, data: Record<'x' | 'w' | 'bias' | 'residual', Float32Array>, rows: number, inDim: number, outDim: number): Promise<Float32Array> {
  const device = gpu();
  const made: GPUBuffer[] = [];
  const storage = (array: Float32Array) => {
    const buffer = device.createBuffer({ size: Math.max(16, array.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(buffer, 0, array);
    made.push(buffer);
    return buffer;
  };
  const uniform = device.createBuffer({ size: LINEAR_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  made.push(uniform);
  device.queue.writeBuffer(uniform, 0, packRows(LINEAR_LAYOUT, { rows, inDim, outDim }));
  const y = storage(new Float32Array(rows * outDim).fill(Number.NaN));
  const [x, w] = [storage(data.x), storage(data.w)];
  const kernel = { bias: kernels.linear, gelu: kernels.gelu, residual: kernels.residual, logits: kernels.logits }[epilogue];
  const bound = epilogue === 'logits' ? [uniform, x, w, y] : epilogue === 'residual' ? [uniform, x, w, y, storage(data.bias), storage(data.residual)] : [uniform, x, w, y, storage(data.bias)];
  const encoder = device.createCommandEncoder();
  encodePass(encoder, kernel, kernel.bind(bound), kernels.dims(rows, outDim));
  device.queue.submit([encoder.finish()]);
  const [out] = await readFloats(device, [[y, 0, rows * outDim]], 'test/linear');
  made.forEach((b) => b.destroy());
  return out;
}

// rows × inDim × outDim: none a multiple of 4, 16 or 32 except where an edge is 1; 130 rows
// span two row blocks of every variant (4 teams × 32 rows, 64-row workgroups), 131 columns
// three 64-column blocks and five 32-column lane tiles.
const SHAPES: Array<[number, number, number]> = [
  [37, 29, 45],
  [5, 70, 131],
  [130, 33, 7],
  [1, 3, 1],
];

describe('the linear kernels in every variant match an f64 matmul', () => {
  for (const epilogue of ['bias', 'gelu', 'residual', 'logits'] as const) {
    it(`${epilogue}: every variant, odd shapes`, async () => {
      for (const [name, tuning] of variants()) {
        const kernels = await createLinearKernels(gpu(), tuning);
        expect(kernels.variant).toEqual(tuning.linear);
        for (const [rows, inDim, outDim] of SHAPES) {
          const rng = makeRng(rows * 1000 + inDim * 10 + outDim);
          const data = { x: randomF32(rng, rows * inDim), w: randomF32(rng, inDim * outDim), bias: randomF32(rng, outDim), residual: randomF32(rng, rows * outDim) };
          const got = await runKernel(kernels, epilogue, data, rows, inDim, outDim);
          const expected = reference(epilogue, data.x, data.w, data.bias, data.residual, rows, inDim, outDim);
          const c = compareArrays(got, expected, TOLERANCE);
          const key = `${name} ${epilogue}`;
          worst[key] = Math.max(worst[key] ?? 0, c.maxAbsErr);
          expect(c.pass, `${key} ${rows}×${inDim}→${outDim}: ${c.failures} of ${c.length} off; worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(true);
        }
      }
    });
  }

  it('refuses lane tiles on a device without 4-lane subgroups, and a bad lane tile', async () => {
    const lanes: AttentionTuning = { ...SOFTWARE_TUNING, linear: { kind: 'lanes', tile: { rows: 6, cols: 32 } } };
    await expect(createLinearKernels(gpu(), lanes)).rejects.toMatchObject({ field: 'lane tile rows' });
  });
});

// A small model of odd sizes (dModel 30, 3 heads of 10, dMlp 50, vocab 29) with random biases.
const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 2, dMlp: 50 };
function oddParams(seed: number): GptParams {
  const params = initParams(ODD, seed);
  const rng = makeRng(seed + 1);
  for (const [name, data] of params) {
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.6 * rng() - 0.3;
    else if (name.endsWith('c_attn.weight')) for (let i = 0; i < data.length; i++) data[i] *= 12;
    else if (name === 'wte.weight') for (let i = 0; i < data.length; i++) data[i] *= 25;
  }
  return params;
}
// As test/browser/model-forward.test.ts: f32 against f64 through two blocks.
const MODEL_TOLERANCE = { atol: 1e-4, rtol: 1e-3 };
const WEIGHTS_TOLERANCE = { atol: 2e-5, rtol: 1e-3 };

describe('the forward pass with each linear variant', () => {
  const params = oddParams(11);
  const tokens = Array.from({ length: 33 }, (_, i) => (i * 7 + 3) % ODD.vocabSize);
  const trace = forwardReference(ODD, params, tokens);

  it('matches the f64 reference in the MLP output and the logits, every variant', async () => {
    for (const [name, tuning] of variants()) {
      const model = await createGpuModel(gpu(), ODD, params, tuning);
      try {
        const result = await model.run(tokens, { read: ['resid1', 'mlpAct', 'resid2', 'logits'] });
        for (const [tensor, got, expected] of [
          ['resid1', result.layers[1].resid1, trace.layers[1].resid1],
          ['mlpAct', result.layers[1].mlpAct, trace.layers[1].mlpAct],
          ['resid2', result.layers[1].resid2, trace.layers[1].resid2],
          ['logits', result.logits, trace.logits],
        ] as const) {
          const c = compareArrays(got!, expected, MODEL_TOLERANCE);
          expect(c.pass, `${name} ${tensor}: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(true);
        }
      } finally {
        model.destroy();
      }
    }
  });

  it("keep 'weights': every layer's weights right, one scratch scores buffer, scores refused; keep 'all' after it binds its own again", async () => {
    const model = await createGpuModel(gpu(), ODD, params);
    try {
      const read: ModelReadName[] = ['weights', 'attn', 'logits'];
      const light = await model.run(tokens, { read, keep: 'weights' });
      for (let l = 0; l < ODD.layers; l++) {
        const c = compareArrays(light.layers[l].weights!, trace.layers[l].weights, WEIGHTS_TOLERANCE);
        expect(c.pass, `layer ${l} weights`).toBe(true);
        expect(compareArrays(light.layers[l].attn!, trace.layers[l].attn, MODEL_TOLERANCE).pass, `layer ${l} attn`).toBe(true);
      }
      expect(compareArrays(light.logits!, trace.logits, MODEL_TOLERANCE).pass).toBe(true);
      const buffers = model.buffers()!;
      expect(buffers.keep).toBe('weights');
      expect(buffers.layers[0].scores).toBe(buffers.layers[1].scores);
      expect(buffers.layers[0].weights).not.toBe(buffers.layers[1].weights);
      // The scratch holds the last layer's scores.
      const [lastScores] = await readFloats(gpu(), [[buffers.layers[1].scores, 0, ODD.heads * tokens.length ** 2]], 'test/scores');
      expect(compareArrays(lastScores, trace.layers[1].scores, MODEL_TOLERANCE).pass).toBe(true);

      const refused = model.run(tokens, { read: ['scores'], keep: 'weights' });
      await expect(refused).rejects.toBeInstanceOf(AttentionInputError);
      await expect(model.run(tokens, { read: ['scores'], keep: 'weights' })).rejects.toMatchObject({ field: 'read' });
      await expect(model.run(tokens, { keep: 'some' as never })).rejects.toMatchObject({ field: 'keep' });

      // Back to keep 'all' on the same buffer set: each layer's own scores again (not the scratch's).
      const full = await model.run(tokens, { read: [...MODEL_LAYER_TENSORS] });
      for (let l = 0; l < ODD.layers; l++) {
        expect(compareArrays(full.layers[l].scores!, trace.layers[l].scores, MODEL_TOLERANCE).pass, `layer ${l} scores after keep 'weights'`).toBe(true);
      }
      const after = model.buffers()!;
      expect(after.keep).toBe('all');
      expect(after.layers[0].scores).not.toBe(after.layers[1].scores);
    } finally {
      model.destroy();
    }
  });
});
