/**
 * The surface fed by a precomputed weights grid (the fused path's reducedMap): drawn, legend,
 * picking by blocks, only the weights stage; Float32Array and GPUBuffer grids give one picture.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionCpu, makeRandomInputs, resolveShape, type AttentionShape } from '../../src/index';
import { createFlashAttention, type FlashAttention } from '../../src/kernels/flash';
import { explorerSource } from '../../src/app/sources';
import { FUSED_ONLY_WEIGHTS, createSurfaceView, type SurfaceView } from '../../src/scene/index';
import { gpu, useGpuDevice } from './gpu-fixture';
import { differingPixels, distinctColours, makeCanvas, pixelsOf } from './scene-pixels';

useGpuDevice();

const NO_TOKENS = { tokens: [], keyTokens: [] };

let flash: FlashAttention;
beforeAll(async () => {
  flash = await createFlashAttention(gpu());
});
afterAll(() => flash?.destroy());

function gridBuffer(values: Float32Array): GPUBuffer {
  const buffer = gpu().createBuffer({ label: 'test/grid', size: values.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  gpu().queue.writeBuffer(buffer, 0, values);
  return buffer;
}

/** Pick at a few points near the middle until something is hit. */
function pickMiddle(view: SurfaceView, width: number, height: number) {
  for (const [dx, dy] of [[0, 0], [0, 8], [8, 0], [-8, 0], [0, -8], [16, 16]]) {
    const cell = view.pick(width / 2 + dx, height / 2 + dy);
    if (cell) return cell;
  }
  return null;
}

describe('the surface from a fused-path weights grid', () => {
  let view: SurfaceView | null = null;
  let canvas: HTMLCanvasElement | null = null;
  const buffers: GPUBuffer[] = [];
  afterAll(() => {
    view?.destroy();
    canvas?.remove();
    for (const b of buffers) b.destroy();
  });

  it('draws the weights of reducedMap, says so in the legend, picks blocks, has only the weights stage', async () => {
    canvas = makeCanvas(240, 180);
    view = await createSurfaceView(canvas, gpu());
    const shape: AttentionShape = { seqLen: 64, dModel: 16, heads: 2, dHead: 8, causal: true };
    const s = resolveShape(shape);
    await flash.run(shape, makeRandomInputs(shape, 4), { read: [] });
    const weights = await flash.reducedMap({ rows: 16, cols: 16, mode: 'max' });
    const grid = { weights, rows: 16, cols: 16, mode: 'max' as const };
    await view.setSource(explorerSource(s, NO_TOKENS, { grid }));
    expect(view.availableStages()).toEqual(['weights']);
    const drawn = await pixelsOf(await view.toPngBlob());
    expect(distinctColours(drawn)).toBeGreaterThan(20);

    const legend = view.legend();
    expect(legend.fused).toBe(true);
    expect(legend.title).toContain('softmax weights');
    expect(legend.title).toContain('fused');
    expect(legend.reduction).toContain('fused path: max over 4×4 blocks');
    expect(legend.reduction).toContain('scores never stored');
    expect(legend.masked).toContain('grey floor');
    expect(legend.note).toBe(FUSED_ONLY_WEIGHTS);
    expect(legend.min).toBe(0);
    expect(legend.max).toBeCloseTo(Math.max(...weights), 6);

    const cell = pickMiddle(view, 240, 180);
    expect(cell).not.toBeNull();
    // 64 queries and 64 keys in 16 × 16 cells: every cell is a 4 × 4 block starting at a multiple of 4.
    expect(cell!.query % 4).toBe(0);
    expect(cell!.queryEnd).toBe(cell!.query + 4);
    expect(cell!.key % 4).toBe(0);
    expect(cell!.keyEnd).toBe(cell!.key + 4);
    expect(view.pick(2, 2)).toBeNull();

    // Another stage: the weights stay, the legend says why.
    view.setStage('raw');
    await view.whenIdle();
    const raw = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(drawn, raw)).toBeLessThan(20);
    expect(view.legend().title).toContain('softmax weights');
    expect(view.legend().note).toMatch(/raw scores.*not available.*only the weights exist on the fused path/);

    view.highlightRow(cell);
    await view.whenIdle();
    const lit = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(raw, lit)).toBeGreaterThan(20);

    // The same grid as a GPUBuffer (read back) draws the same picture.
    view.highlightRow(null);
    const buffer = gridBuffer(weights);
    buffers.push(buffer);
    await view.setSource(explorerSource(s, NO_TOKENS, { grid: { ...grid, weights: buffer } }));
    const fromBuffer = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(drawn, fromBuffer)).toBeLessThan(20);

    // All heads side by side.
    view.setHead(-1);
    await view.whenIdle();
    const both = await pixelsOf(await view.toPngBlob());
    expect(differingPixels(fromBuffer, both)).toBeGreaterThan(200);

    // Back to a full source: the chosen stage (raw) returns with all stages.
    await view.setSource(explorerSource(s, NO_TOKENS, { cpu: attentionCpu(shape, makeRandomInputs(shape, 4)) }));
    expect(view.availableStages()).toEqual(['raw', 'scaled', 'masked', 'weights']);
    expect(view.legend().title).toBe('raw scores QKᵀ');
    expect(view.legend().fused).toBe(false);
    expect(view.legend().note).toBe('');
  });

  it('shrinks a grid too large for all heads side by side (array and buffer agree), picks composed blocks', async () => {
    const c2 = makeCanvas(240, 180);
    const v2 = await createSurfaceView(c2, gpu());
    try {
      const s = resolveShape({ seqLen: 600, dModel: 16, heads: 4, dHead: 4, causal: true });
      // Four heads side by side get at most ⌊256 / ⌈√4⌉⌋ = 128 cells a side, so a 200 × 200 grid shrinks.
      const side = 200;
      const shown = 128;
      const weights = new Float32Array(4 * side * side);
      for (let h = 0; h < 4; h++) {
        for (let r = 0; r < side; r++) {
          for (let c = 0; c < side; c++) {
            // Blocks of 600 / 200 = 3 entries: key block c is fully masked for query block r when its
            // first key 3c comes after the block's last query 3r + 2, i.e. when c > r.
            const masked = c > r;
            weights[(h * side + r) * side + c] = masked ? 0 : 0.2 + 0.8 * Math.abs(Math.sin(0.05 * (r + 3 * h) + 0.11 * c));
          }
        }
      }
      const grid = { weights, rows: side, cols: side, mode: 'max' as const };
      v2.setHead(-1);
      await v2.setSource(explorerSource(s, NO_TOKENS, { grid }));
      const fromArray = await pixelsOf(await v2.toPngBlob());
      expect(distinctColours(fromArray)).toBeGreaterThan(20);
      expect(v2.legend().reduction).toMatch(/fused path: max over \d+–\d+×\d+–\d+ blocks/);
      const cell = pickMiddle(v2, 240, 180);
      expect(cell).not.toBeNull();
      // Shown cell r covers the whole grid blocks ⌊r·200/128⌋ … ⌊(r+1)·200/128⌋ − 1, and each of the
      // 200 grid blocks is exactly 600 / 200 = 3 queries: so cells start at 3·⌊r·200/128⌋.
      const shownStart = (r: number) => 3 * Math.floor((r * side) / shown);
      let r = 0;
      while (shownStart(r + 1) <= cell!.query) r++;
      expect(r).toBeLessThan(shown);
      expect(cell!.query).toBe(shownStart(r));
      expect(cell!.queryEnd).toBe(shownStart(r + 1));
      // 200 / 128 = 1.5625 grid blocks per shown cell: each covers 1 or 2 blocks, 3 or 6 queries.
      expect([3, 6]).toContain(cell!.queryEnd - cell!.query);

      const buffer = gridBuffer(weights);
      try {
        await v2.setSource(explorerSource(s, NO_TOKENS, { grid: { ...grid, weights: buffer } }));
        const fromBuffer = await pixelsOf(await v2.toPngBlob());
        expect(differingPixels(fromArray, fromBuffer)).toBeLessThan(20);
        // One head: no shrinking.
        v2.setHead(3);
        await v2.whenIdle();
        expect(v2.legend().reduction).toContain('fused path: max over 3×3 blocks');
      } finally {
        buffer.destroy();
      }

      await expect(v2.setSource(explorerSource(s, NO_TOKENS, { grid: { ...grid, weights: weights.subarray(0, 10) } }))).rejects.toThrow(/heads\[0\]\.weights: needs elements 0 … 39999, but it holds 10/);
    } finally {
      v2.destroy();
      c2.remove();
    }
  });
});


describe('a weights grid without WebGPU', () => {
  it('draws a Float32Array grid on WebGL2 and refuses a GPUBuffer', async () => {
    const canvas = makeCanvas(200, 150);
    const view = await createSurfaceView(canvas, null);
    try {
      const s = resolveShape({ seqLen: 32, dModel: 8, heads: 1, dHead: 8, causal: true });
      const weights = new Float32Array(8 * 8).map((_, n) => (n % 8 > n >> 3 ? 0 : 0.1 + ((n * 37) % 11) / 11));
      await view.setSource(explorerSource(s, NO_TOKENS, { grid: { weights, rows: 8, cols: 8, mode: 'max' } }));
      expect(distinctColours(await pixelsOf(await view.toPngBlob()))).toBeGreaterThan(20);
      expect(view.availableStages()).toEqual(['weights']);
      const buffer = gridBuffer(weights);
      try {
        await expect(view.setSource(explorerSource(s, NO_TOKENS, { grid: { weights: buffer, rows: 8, cols: 8, mode: 'max' } }))).rejects.toThrow(/Float32Array/);
      } finally {
        buffer.destroy();
      }
    } finally {
      view.destroy();
      canvas.remove();
    }
  });
});
