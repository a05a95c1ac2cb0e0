/**
 * The GPU surface-grid reduction against the CPU reference, and the three.js surface drawn on
 * the shared device (and on WebGL2 without a device).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuAttention, makeRandomInputs, resolveShape, type AttentionShape, type GpuAttention } from '../../src/index';
import { createGridReducer, type GridReducer } from '../../src/kernels/reduce';
import { GRID_PLANES, planGrid, reduceAttention, type GridPlan } from '../../src/reference/reduce';
import { explorerSource } from '../../src/app/sources';
import { createSurfaceView, type SurfaceView } from '../../src/scene/index';
import { headsOf } from '../../src/scene/sources';
import { gpu, useGpuDevice } from './gpu-fixture';
import { differingPixels, distinctColours, makeCanvas, pixelsOf } from './scene-pixels';

useGpuDevice();

let attention: GpuAttention;
let reducer: GridReducer;
beforeAll(async () => {
  attention = await createGpuAttention(gpu());
  reducer = await createGridReducer(gpu());
});
afterAll(() => {
  reducer?.destroy();
  attention?.destroy();
});

/** Run attention on the GPU; return its own arrays so the comparison isolates the reduction. */
async function runShape(shape: AttentionShape, seed = 3) {
  const result = await attention.run(shape, makeRandomInputs(shape, seed), { read: ['q', 'k', 'scores', 'weights'] });
  const buffers = attention.buffers();
  if (!buffers) throw new Error('no buffers after a run');
  return { result, buffers, s: resolveShape(shape) };
}

function expectPlanesClose(actual: Float32Array, expected: Float32Array, cells: number, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let p = 0; p < GRID_PLANES.length; p++) {
    let scale = 0;
    for (let n = 0; n < cells; n++) scale = Math.max(scale, Math.abs(expected[p * cells + n]));
    const atol = 1e-5 + 2e-5 * scale;
    for (let n = 0; n < cells; n++) {
      const a = actual[p * cells + n];
      const e = expected[p * cells + n];
      if (!(Math.abs(a - e) <= atol)) {
        expect.fail(`${label}: plane ${GRID_PLANES[p]} cell ${n}: GPU ${a} vs CPU ${e} (atol ${atol.toExponential(2)})`);
      }
    }
  }
}

describe('GPU reduction equals the CPU reference', () => {
  const cases: Array<{ shape: AttentionShape; plans: Array<Partial<GridPlan> & { head: number }> }> = [
    // Exact grids (1 cell = 1 entry), with and without the mask.
    { shape: { seqLen: 7, dModel: 8, heads: 2, dHead: 4 }, plans: [{ head: 0 }, { head: -1 }] },
    { shape: { seqLen: 9, dModel: 6, heads: 3, dHead: 5, causal: true }, plans: [{ head: 2 }, { head: -1 }] },
    // Odd sizes reduced to grids they do not divide, causal diagonal inside blocks.
    { shape: { seqLen: 37, dModel: 12, heads: 2, dHead: 6, causal: true }, plans: [{ head: 1, rows: 5, cols: 6 }, { head: -1, rows: 7, cols: 4 }] },
    { shape: { seqLen: 13, kvLen: 29, dModel: 10, heads: 2, dHead: 3 }, plans: [{ head: 1, rows: 4, cols: 9 }] },
    { shape: { seqLen: 29, kvLen: 13, dModel: 10, heads: 1, dHead: 7, causal: true }, plans: [{ head: 0, rows: 8, cols: 5 }] },
    // planGrid's own reduction: 300 > 256 rows and columns.
    { shape: { seqLen: 300, dModel: 16, heads: 1, dHead: 8, causal: true }, plans: [{ head: 0 }] },
  ];
  for (const { shape, plans } of cases) {
    for (const mode of ['max', 'mean'] as const) {
      it(`${mode} ${JSON.stringify(shape)}`, async () => {
        const { result, buffers, s } = await runShape(shape);
        for (const { head, ...override } of plans) {
          const plan: GridPlan = { ...planGrid(s, head, mode), ...override };
          const cells = plan.headCount * plan.rows * plan.cols;
          const source = explorerSource(s, { tokens: [], keyTokens: [] }, { gpu: buffers });
          if (source.kind !== 'gpu-maps') throw new Error('explorerSource of GPU buffers is not gpu-maps');
          const actual = await reducer.reduceHeads(headsOf(source.heads, plan), { dHead: s.dHead, causal: s.causal }, plan);
          const expected = reduceAttention(s, result, plan);
          expectPlanesClose(actual, expected, cells, JSON.stringify(plan));
          if (s.causal) {
            // Something is fully masked in every causal case here, and shows as maskFrac 1.
            const fractions = actual.subarray(4 * cells, 5 * cells);
            expect(Math.max(...fractions)).toBe(1);
          }
        }
      });
    }
  }
});

describe('the surface on the shared device', () => {
  let view: SurfaceView | null = null;
  let canvas: HTMLCanvasElement | null = null;
  afterAll(() => {
    view?.destroy();
    canvas?.remove();
  });

  it('draws the weights, morphs to raw scores, picks and highlights', async () => {
    canvas = makeCanvas(240, 180);
    view = await createSurfaceView(canvas, gpu());
    expect(view.backend).toBe('webgpu');
    const shape: AttentionShape = { seqLen: 12, dModel: 8, heads: 2, dHead: 4, causal: true };
    const { buffers, s } = await runShape(shape, 7);
    const tokens = Array.from({ length: 12 }, (_, i) => `t${i}`);
    await view.setSource(explorerSource(s, { tokens, keyTokens: tokens }, { gpu: buffers }));
    const weights = await pixelsOf(await view.toPngBlob());
    expect(distinctColours(weights)).toBeGreaterThan(20);

    const legend = view.legend();
    expect(legend.title).toBe('softmax weights');
    expect(legend.reduction).toBe('exact (1 cell = 1 entry)');
    expect(legend.min).toBe(0);
    expect(legend.max).toBeGreaterThan(0.3);
    expect(legend.masked).toContain('masked');

    view.setStage('raw');
    await view.whenIdle();
    const raw = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(weights, raw)).toBeGreaterThan(500);
    expect(view.legend().title).toBe('raw scores QKᵀ');

    const ms = await view.render();
    expect(ms).toBeGreaterThan(0);

    // The middle of the canvas looks at the middle of the surface.
    const cell = view.pick(120, 95);
    expect(cell).not.toBeNull();
    expect(cell!.head).toBe(0);
    expect(cell!.layer).toBeUndefined();
    expect(cell!.layerHead).toBe(0);
    expect(cell!.title).toBe('head 0');
    expect(cell!.queryEnd).toBe(cell!.query + 1);
    expect(cell!.keyEnd).toBe(cell!.key + 1);
    expect(view.pick(2, 2)).toBeNull();
    view.highlightRow(cell);
    await view.whenIdle();
    const lit = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(raw, lit)).toBeGreaterThan(20);
  });

  it('frame times at 128² and 256² cells (printed)', async () => {
    const big = makeCanvas(640, 480);
    const timed = await createSurfaceView(big, gpu());
    try {
      for (const seqLen of [128, 256]) {
        const shape: AttentionShape = { seqLen, dModel: 16, heads: 1, dHead: 16, causal: true };
        const { buffers, s } = await runShape(shape, 11);
        await timed.setSource(explorerSource(s, { tokens: [], keyTokens: [] }, { gpu: buffers }));
        const times: number[] = [];
        for (let k = 0; k < 3; k++) times.push(await timed.render());
        console.info(`[scene] 640×480 canvas, ${seqLen}² grid: frame ms ${times.map((t) => t.toFixed(0)).join(', ')}`);
        expect(Math.min(...times)).toBeGreaterThan(0);
      }
    } finally {
      timed.destroy();
      big.remove();
    }
  });
});

describe('the surface without WebGPU', () => {
  it('draws the CPU arrays with three’s WebGL2 backend', async () => {
    const canvas = makeCanvas(200, 150);
    const view = await createSurfaceView(canvas, null);
    try {
      expect(view.backend).toBe('webgl');
      const shape: AttentionShape = { seqLen: 10, dModel: 8, heads: 2, dHead: 4, causal: true };
      const { result, s } = await runShape(shape, 5);
      const tokens = Array.from({ length: 10 }, (_, i) => `w${i}`);
      await view.setSource(explorerSource(s, { tokens, keyTokens: tokens }, { cpu: result }));
      const weights = await pixelsOf(await view.toPngBlob());
      expect(distinctColours(weights)).toBeGreaterThan(20);
      view.setStage('scaled');
      await view.whenIdle();
      const scaled = await pixelsOf(await view.toPngBlob());
      expect(differingPixels(weights, scaled)).toBeGreaterThan(300);
    } finally {
      view.destroy();
      canvas.remove();
    }
  });
});
