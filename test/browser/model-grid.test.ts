// The model view's GPU data (src/kernels/model-grid.ts): every layer of a run of the shipped
// checkpoint packed into one attention of layers·heads heads, GPU-side, read back and compared
// with the f64 forward reference (forwardReference, src/model/forward-reference.ts) combined on the CPU
// (combineLayers, whose layout test/unit/model-mode.test.ts checks by hand); and the surface
// grid the scene's reduction makes from the packed buffers, against the CPU reduction of the
// reference. Tolerances as test/browser/model-forward.test.ts (f32 on the GPU vs f64).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineLayers } from '../../src/app/model-view';
import { MODEL_TOLERANCES } from '../../src/verify/model';
import { resolveShape } from '../../src/core/types';
import { readFloats } from '../../src/gpu/readback';
import { createGpuModel, type GpuModel } from '../../src/kernels/model';
import { createLayerPacker, layerAttentionBuffers, type LayerPacker } from '../../src/kernels/model-grid';
import { createGridReducer } from '../../src/kernels/reduce';
import { readCheckpoint, type Checkpoint } from '../../src/model/checkpoint';
import { sampleText } from '../../src/model/corpus';
import { forwardReference } from '../../src/model/forward-reference';
import { encode, makeVocabulary } from '../../src/model/vocab';
import { planGrid, reduceAttention } from '../../src/reference/reduce';
import { compareArrays } from '../../src/verify/compare';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();

let checkpoint: Checkpoint;
let model: GpuModel;
let packer: LayerPacker;
beforeAll(async () => {
  const response = await fetch('/models/tiny-stories/model.safetensors');
  expect(response.ok, 'fetch the shipped checkpoint').toBe(true);
  checkpoint = readCheckpoint(await response.arrayBuffer());
  model = await createGpuModel(gpu(), checkpoint.config, checkpoint.params);
  packer = createLayerPacker(gpu());
});
afterAll(() => {
  packer?.destroy();
  model?.destroy();
});

function expectClose(label: string, actual: Float32Array, expected: ArrayLike<number>, tolerance: { atol: number; rtol: number }): void {
  const c = compareArrays(actual, expected, tolerance);
  expect(c.pass, `${label}: ${c.failures} of ${c.length} off; worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(true);
}

describe('packing the layers of a model run for the model view', () => {
  for (const length of [37, 20]) {
    it(`equals the f64 reference, every layer side by side (${length} tokens)`, async () => {
      const vocab = makeVocabulary(checkpoint.vocab!);
      const ids = [0, ...encode(sampleText(5, length), vocab)].slice(0, length);
      const { config } = checkpoint;
      await model.run(ids, { read: [] });
      const packed = await packer.pack(model.buffers()!, config);
      const L = config.layers;
      const H = config.heads;
      const d = config.dModel;
      expect(packed.shape).toEqual(resolveShape({ seqLen: length, kvLen: length, dModel: d, heads: L * H, dHead: d / H, causal: true }));
      expect(packed.shape.width).toBe(L * d);
      const trace = forwardReference(config, checkpoint.params, ids);
      const expected = combineLayers(trace.layers.map((l) => ({ ...l })), length, d);
      const T = length;
      const W = L * d;
      const [q, k, v, scores, weights, output] = await readFloats(
        gpu(),
        [
          [packed.qkv, 0, T * W],
          [packed.qkv, packed.kOffset, T * W],
          [packed.qkv, packed.vOffset, T * W],
          [packed.scores, 0, L * H * T * T],
          [packed.weights, 0, L * H * T * T],
          [packed.output, 0, T * W],
        ],
        'test/model-grid',
      );
      expectClose('q', q, expected.q, MODEL_TOLERANCES.activations);
      expectClose('k', k, expected.k, MODEL_TOLERANCES.activations);
      expectClose('v', v, expected.v, MODEL_TOLERANCES.activations);
      expectClose('scores', scores, expected.scores, MODEL_TOLERANCES.scores);
      expectClose('weights', weights, expected.weights, MODEL_TOLERANCES.weights);
      expectClose('output', output, expected.output, MODEL_TOLERANCES.activations);
      // Layer 1's head 2 really is head H + 2 of the packed map (not a copy of layer 0).
      const map = T * T;
      const l1h2 = weights.subarray((H + 2) * map, (H + 3) * map);
      expect(compareArrays(l1h2, trace.layers[1].weights.subarray(2 * map, 3 * map), MODEL_TOLERANCES.weights).pass).toBe(true);
      expect(compareArrays(l1h2, trace.layers[0].weights.subarray(2 * map, 3 * map), MODEL_TOLERANCES.weights).pass).toBe(false);
    });
  }

  it('the scene reduction of the packed buffers (all layers × heads) and of one layer equals the CPU reduction of the reference', async () => {
    const vocab = makeVocabulary(checkpoint.vocab!);
    const T = 24;
    const ids = [0, ...encode('The cat sat on the mat . The dog chased the cat .', vocab)];
    while (ids.length < T) ids.push(0);
    const { config } = checkpoint;
    await model.run(ids.slice(0, T), { read: [] });
    const buffers = model.buffers()!;
    const packed = await packer.pack(buffers, config);
    const trace = forwardReference(config, checkpoint.params, ids.slice(0, T));
    const combined = combineLayers(trace.layers.map((l) => ({ ...l })), T, config.dModel);
    const reducer = await createGridReducer(gpu());
    try {
      const plan = planGrid(packed.shape, -1, 'max');
      expect(plan.headCount).toBe(config.layers * config.heads);
      await reducer.reduce(packed, plan);
      const planes = await reducer.read(plan);
      const expected = reduceAttention(packed.shape, combined, plan);
      expectClose('grid planes (all layers × heads)', planes, expected, { atol: 2e-4, rtol: 1e-3 });
      const one = layerAttentionBuffers(buffers, 1, config);
      const plan1 = planGrid(one.shape, 3, 'max');
      await reducer.reduce(one, plan1);
      const planes1 = await reducer.read(plan1);
      const layer1 = trace.layers[1];
      const expected1 = reduceAttention(one.shape, { q: Float32Array.from(layer1.q), k: Float32Array.from(layer1.k), scores: Float32Array.from(layer1.scores), weights: Float32Array.from(layer1.weights) }, plan1);
      expectClose('grid planes (layer 1, head 3)', planes1, expected1, { atol: 2e-4, rtol: 1e-3 });
    } finally {
      reducer.destroy();
    }
  });
});
