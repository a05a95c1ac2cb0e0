/**
 * The model view's surface straight from a model run: modelSource (src/app/sources.ts) points
 * every layer × head into that layer's own GPU buffers (the same GPUBuffer objects the forward
 * pass wrote, nothing copied), the scene's per-head reduction of those buffers equals the CPU
 * reduction of the f64 forward reference (forwardReference, src/model/forward-reference.ts),
 * layer by layer, and the surface drawn from the GPU buffers looks like the one drawn from the
 * reference's arrays, with picking naming the layer and head under the cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explorerSource, modelSource, type ModelSourceRun } from '../../src/app/sources';
import { resolveShape } from '../../src/core/types';
import { createGpuModel, type GpuModel } from '../../src/kernels/model';
import { createGridReducer, type GridReducer } from '../../src/kernels/reduce';
import type { Checkpoint } from '../../src/model/checkpoint';
import { forwardReference } from '../../src/model/forward-reference';
import { planGrid, reduceAttention, type GridPlan } from '../../src/reference/reduce';
import { concatPlanes } from '../shared/planes';
import { createSurfaceView } from '../../src/scene/index';
import { compareArrays } from '../../src/verify/compare';
import { gpu, useGpuDevice } from './gpu-fixture';
import { fetchShippedCheckpoint } from './model-fixture';
import { differingPixels, distinctColours, makeCanvas, pixelsOf } from './scene-pixels';

useGpuDevice();

let checkpoint: Checkpoint;
let model: GpuModel;
let reducer: GridReducer;
beforeAll(async () => {
  checkpoint = await fetchShippedCheckpoint();
  model = await createGpuModel(gpu(), checkpoint.config, checkpoint.params);
  reducer = await createGridReducer(gpu());
});
afterAll(() => {
  reducer?.destroy();
  model?.destroy();
});

/** Deterministic token ids spread over the vocabulary. */
const idsOf = (length: number) => Array.from({ length }, (_, t) => (t * 37 + 5) % checkpoint.config.vocabSize);

/** A model run as modelSource reads it: the GPU buffers of the last run, and the reference's arrays. */
function runOf(ids: number[], buffers: ModelSourceRun['buffers']): { run: ModelSourceRun; trace: ReturnType<typeof forwardReference> } {
  const trace = forwardReference(checkpoint.config, checkpoint.params, ids);
  const layers = trace.layers.map((l) => ({ q: Float32Array.from(l.q), k: Float32Array.from(l.k), scores: Float32Array.from(l.scores), weights: Float32Array.from(l.weights) }));
  const { layers: L, heads: H, dModel } = checkpoint.config;
  const run: ModelSourceRun = { model: { config: { layers: L, heads: H, dModel } }, input: { ids, words: ids.map((id) => `#${id}`) }, layers, buffers, heads: [] };
  return { run, trace };
}

function expectClose(label: string, actual: Float32Array, expected: Float32Array): void {
  const c = compareArrays(actual, expected, { atol: 2e-4, rtol: 1e-3 });
  expect(c.pass, `${label}: ${c.failures} of ${c.length} off; worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(true);
}

describe('the model view from each layer’s own buffers', () => {
  for (const T of [37, 24]) {
    it(`every layer × head reduced on the GPU equals the reference reduced per layer (${T} tokens)`, async () => {
      const ids = idsOf(T);
      await model.run(ids, { read: [] });
      const buffers = model.buffers()!;
      const { run, trace } = runOf(ids, buffers);
      const source = modelSource(run, { layer: 0, head: -1 });
      if (source.kind !== 'gpu-maps') throw new Error(`modelSource with live buffers gave ${source.kind}`);
      const { layers: L, heads: H, dModel } = checkpoint.config;
      expect(source.heads).toHaveLength(L * H);
      // No copies: each head names its layer's own buffers.
      source.heads.forEach((head, n) => {
        const layer = buffers.layers[Math.floor(n / H)];
        expect([head.layer, head.head]).toEqual([Math.floor(n / H), n % H]);
        expect(head.scores === layer.scores && head.weights === layer.weights && head.qk === layer.qkv, `head ${n}`).toBe(true);
      });
      const layerShape = resolveShape({ seqLen: T, dModel, heads: H, dHead: dModel / H, causal: true });
      const exact = planGrid({ seqLen: T, kvLen: T, heads: L * H }, -1, 'max');
      const plans: GridPlan[] = [exact, { ...exact, mode: 'mean', rows: 7, cols: 5 }, { ...exact, rows: 5, cols: 9 }];
      for (const plan of plans) {
        const planes = await reducer.reduceHeads(source.heads, { dHead: source.dHead, causal: true }, plan);
        const perLayer = { ...plan, headCount: H };
        const expected = concatPlanes(trace.layers.map((l) => reduceAttention(layerShape, l, perLayer)), H * plan.rows * plan.cols);
        expectClose(`${plan.mode} ${plan.rows}×${plan.cols}`, planes, expected);
      }
      // One layer's head alone: layer 1, head 3.
      const one = modelSource(run, { layer: 1, head: 0 });
      if (one.kind !== 'gpu-maps') throw new Error('one layer: not gpu-maps');
      const plan1 = planGrid({ seqLen: T, kvLen: T, heads: H }, 3, 'max');
      const planes1 = await reducer.reduceHeads(one.heads.slice(3, 4), { dHead: one.dHead, causal: true }, plan1);
      expectClose('layer 1, head 3', planes1, reduceAttention(layerShape, trace.layers[1], plan1));
    });
  }

  it('draws every layer × head from the GPU as from the reference arrays; picking names the layer and head', async () => {
    const canvas = makeCanvas(320, 240);
    const view = await createSurfaceView(canvas, gpu());
    try {
      const ids = idsOf(20);
      await model.run(ids, { read: [] });
      const { run } = runOf(ids, model.buffers());
      view.setHead(-1);
      await view.setSource(modelSource(run, { layer: 0, head: -1 }));
      const fromGpu = await pixelsOf(await view.toPngBlob());
      expect(distinctColours(fromGpu)).toBeGreaterThan(20);
      await view.setSource(modelSource({ ...run, buffers: null }, { layer: 0, head: -1 }));
      const fromReference = await pixelsOf(await view.toPngBlob());
      expect(differingPixels(fromGpu, fromReference)).toBeLessThan(40);
      // Another text's run draws differently (so the comparison above can fail).
      const other = runOf(idsOf(20).reverse(), null).run;
      await view.setSource(modelSource(other, { layer: 0, head: -1 }));
      expect(differingPixels(fromGpu, await pixelsOf(await view.toPngBlob()))).toBeGreaterThan(200);

      const { heads: H } = checkpoint.config;
      let cell = null;
      for (let y = 40; y < 220 && !cell; y += 10) for (let x = 40; x < 300 && !cell; x += 10) cell = view.pick(x, y);
      expect(cell).not.toBeNull();
      expect(cell!.layer).toBe(Math.floor(cell!.head / H));
      expect(cell!.layerHead).toBe(cell!.head % H);
      expect(cell!.title).toBe(`L${cell!.layer} H${cell!.layerHead}`);
      // A single attention's heads have no layer.
      const s = resolveShape({ seqLen: 4, dModel: 4, heads: 1, dHead: 4 });
      const map = new Float32Array(16).fill(0.25);
      await view.setSource(explorerSource(s, { tokens: [], keyTokens: [] }, { cpu: { q: new Float32Array(16), k: new Float32Array(16), scores: map, weights: map } }));
      view.setHead(0);
      await view.whenIdle();
      let plain = null;
      for (let y = 40; y < 220 && !plain; y += 10) for (let x = 40; x < 300 && !plain; x += 10) plain = view.pick(x, y);
      expect(plain).not.toBeNull();
      expect(plain!.layer).toBeUndefined();
      expect(plain!.title).toBe('head 0');
    } finally {
      view.destroy();
      canvas.remove();
    }
  });
});
