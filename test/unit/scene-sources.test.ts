/**
 * Surface sources as lists of heads (src/scene/sources.ts) and the app's builders
 * (src/app/sources.ts): the arrangement follows from the heads' layer/head, heads point into the
 * run's own buffers at the offsets worked out by hand here, a source that does not fit its
 * buffers is refused with the field named, and the CPU planes reduced head by head from those
 * offsets equal the f64 reference's reduction of the whole map (reduceAttention, one call per
 * attention).
 */
import { describe, expect, it } from 'vitest';
import { attentionCpu, makeRandomInputs, resolveShape, type AttentionShape } from '../../src/index';
import { explorerSource, modelSource, type ModelSourceRun } from '../../src/app/sources';
import { planGrid, reduceAttention, type GridPlan } from '../../src/reference/reduce';
import { concatPlanes } from '../shared/planes';
import { arrangeHeads } from '../../src/scene/layout';
import { SurfaceSourceError, checkSource, fullMapPlanes, weightsGridPlanes, type SurfaceSource } from '../../src/scene/sources';

/** Stands in for a GPUBuffer of `floats` elements: the builders only pass it on, checkSource reads its size. */
const fakeBuffer = (label: string, floats: number) => ({ label, size: floats * 4 }) as unknown as GPUBuffer;

function expectPlanesClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let n = 0; n < expected.length; n++) expect(actual[n], `element ${n}`).toBeCloseTo(expected[n], 5);
}

describe('arrangeHeads', () => {
  it('lays a single attention out near-square, in list order', () => {
    const five = arrangeHeads([0, 1, 2, 3, 4].map((head) => ({ head })));
    expect(five).toEqual({ columns: 3, layered: false, places: [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1]] });
    expect(arrangeHeads([{ head: 0 }])).toEqual({ columns: 1, layered: false, places: [[0, 0]] });
  });

  it('puts a model’s heads in columns and its layers in rows', () => {
    const heads = [0, 1].flatMap((layer) => [0, 1, 2].map((head) => ({ layer, head })));
    expect(arrangeHeads(heads)).toEqual({ columns: 3, layered: true, places: [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]] });
    // One layer's heads: one row.
    expect(arrangeHeads([{ layer: 5, head: 0 }, { layer: 5, head: 1 }])).toEqual({ columns: 2, layered: false, places: [[0, 0], [1, 0]] });
    // Layers in the order they first appear, heads by index whatever the list order.
    expect(arrangeHeads([{ layer: 2, head: 1 }, { layer: 0, head: 0 }])).toEqual({ columns: 2, layered: true, places: [[1, 0], [0, 1]] });
  });
});

describe('explorerSource', () => {
  const shape = resolveShape({ seqLen: 5, kvLen: 7, dModel: 6, heads: 3, dHead: 2, causal: false });
  const labels = { tokens: ['a', 'b', 'c', 'd', 'e'], keyTokens: ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'] };

  it('points head h of the GPU buffers at h·seqLen·kvLen of the maps and columns h·dHead of q and k', () => {
    const qkv = fakeBuffer('qkv', 128 + 7 * 6);
    const scores = fakeBuffer('scores', 3 * 35);
    const weights = fakeBuffer('weights', 3 * 35);
    const source = explorerSource(shape, labels, { gpu: { shape, qkv, kOffset: 128, vOffset: 256, scores, weights, output: fakeBuffer('out', 30), generation: 1 } as never });
    expect(source.kind).toBe('gpu-maps');
    if (source.kind !== 'gpu-maps') return;
    expect(source.dHead).toBe(2);
    expect(source.heads.map((h) => [h.head, h.layer, h.mapOffset, h.qOffset, h.kOffset, h.rowStride])).toEqual([
      [0, undefined, 0, 0, 128, 6],
      [1, undefined, 35, 2, 130, 6],
      [2, undefined, 70, 4, 132, 6],
    ]);
    expect(source.heads.every((h) => h.scores === scores && h.weights === weights && h.qk === qkv)).toBe(true);
    expect(checkSource(source)).toEqual({ seqLen: 5, kvLen: 7, heads: 3 });
  });

  it('points head h of a fused grid at h·rows·cols', () => {
    const weights = new Float32Array(3 * 4 * 2);
    const source = explorerSource(shape, labels, { grid: { weights, rows: 4, cols: 2, mode: 'mean' } });
    expect(source.kind === 'weights-grid' && source.heads.map((h) => h.offset)).toEqual([0, 8, 16]);
    expect(checkSource(source).heads).toBe(3);
  });

  it('reduces CPU heads from their offsets to the reference reduction of the whole map', async () => {
    for (const causal of [false, true]) {
      const s: AttentionShape = { seqLen: 9, kvLen: 9, dModel: 8, heads: 3, dHead: 3, causal };
      const result = attentionCpu(s, makeRandomInputs(s, 21));
      const resolved = resolveShape(s);
      const source = explorerSource(resolved, labels, { cpu: result });
      for (const [head, mode] of [[-1, 'max'], [1, 'mean'], [-1, 'mean']] as const) {
        const plan = { ...planGrid(resolved, head, mode), rows: 4, cols: 3 };
        const actual = await fullMapPlanes(source as Extract<SurfaceSource, { kind: 'cpu-maps' }>, plan, null);
        expectPlanesClose(actual, reduceAttention(resolved, result, plan));
      }
    }
  });
});

describe('modelSource', () => {
  // Two "layers", each an attention of 2 heads over 6 tokens with dModel 4 (dHead 2), causal.
  const layerShape: AttentionShape = { seqLen: 6, dModel: 4, heads: 2, dHead: 2, causal: true };
  const layers = [31, 32].map((seed) => attentionCpu(layerShape, makeRandomInputs(layerShape, seed)));
  const reports = [0, 1].flatMap((layer) => [0, 1].map((head) => ({ layer, head, scores: {} as never, labels: [`label ${layer}${head}`] })));
  const run = (buffers: ModelSourceRun['buffers']): ModelSourceRun => ({
    model: { config: { layers: 2, heads: 2, dModel: 4 } },
    input: { ids: [0, 1, 2, 3, 4, 5], words: ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'] },
    layers,
    buffers,
    heads: reports,
  });

  it('points every layer × head into that layer’s own GPU buffers, titled by its strongest label', () => {
    const gpuLayers = [0, 1].map((l) => ({
      qkv: fakeBuffer(`qkv${l}`, 192),
      kOffset: 64,
      vOffset: 128,
      scores: fakeBuffer(`scores${l}`, 72),
      weights: fakeBuffer(`weights${l}`, 72),
      attn: fakeBuffer(`attn${l}`, 24),
    }));
    const source = modelSource(run({ seqLen: 6, layers: gpuLayers, logits: fakeBuffer('logits', 1), generation: 1 }), { layer: 0, head: -1 });
    expect(source.kind).toBe('gpu-maps');
    if (source.kind !== 'gpu-maps') return;
    expect(source.heads.map((h) => [h.layer, h.head, h.title, h.mapOffset, h.qOffset, h.kOffset, h.rowStride])).toEqual([
      [0, 0, 'L0 H0\nlabel 00', 0, 0, 64, 4],
      [0, 1, 'L0 H1\nlabel 01', 36, 2, 66, 4],
      [1, 0, 'L1 H0\nlabel 10', 0, 0, 64, 4],
      [1, 1, 'L1 H1\nlabel 11', 36, 2, 66, 4],
    ]);
    expect(source.heads.map((h) => (h.scores as unknown as { label: string }).label)).toEqual(['scores0', 'scores0', 'scores1', 'scores1']);
    expect(source.heads.map((h) => (h.qk as unknown as { label: string }).label)).toEqual(['qkv0', 'qkv0', 'qkv1', 'qkv1']);
    expect(arrangeHeads(source.heads)).toMatchObject({ columns: 2, layered: true });
    // One layer: its heads only, named plainly.
    const one = modelSource(run({ seqLen: 6, layers: gpuLayers, logits: fakeBuffer('logits', 1), generation: 1 }), { layer: 1, head: 0 });
    expect(one.heads.map((h) => [h.layer, h.head, h.title])).toEqual([[1, 0, 'L1 H0'], [1, 1, 'L1 H1']]);
    // A run that kept no per-layer scores (keep 'weights'): the source says only the weights can be drawn.
    expect('weightsOnly' in source).toBe(false);
    const weightsOnly = modelSource({ ...run({ seqLen: 6, layers: gpuLayers, logits: fakeBuffer('logits', 1), generation: 1 }), scoresKept: false }, { layer: 0, head: -1 });
    expect(weightsOnly.kind === 'gpu-maps' && weightsOnly.weightsOnly).toBe(true);
  });

  it('without buffers, reduces every layer × head from the layers’ arrays to the reference reduction of each layer', async () => {
    const source = modelSource(run(null), { layer: 0, head: -1 });
    expect(source.kind).toBe('cpu-maps');
    const resolved = resolveShape(layerShape);
    const all: GridPlan = { ...planGrid({ seqLen: 6, kvLen: 6, heads: 4 }, -1, 'max'), rows: 3, cols: 3 };
    const perLayer: GridPlan = { ...all, headCount: 2 };
    const actual = await fullMapPlanes(source as Extract<SurfaceSource, { kind: 'cpu-maps' }>, all, null);
    expectPlanesClose(actual, concatPlanes(layers.map((l) => reduceAttention(resolved, l, perLayer)), 2 * 9));
  });
});

describe('checkSource and weights grids', () => {
  const head = { head: 0, seqLen: 4, kvLen: 4, tokens: [], keyTokens: [] };

  it('refuses sources that do not fit their buffers, naming the field', () => {
    expect(() => checkSource({ kind: 'weights-grid', causal: false, grid: { rows: 2, cols: 2, mode: 'max' }, heads: [] })).toThrow(/heads is empty/);
    const grid = (weights: Float32Array, offset: number, rows = 2): SurfaceSource => ({ kind: 'weights-grid', causal: false, grid: { rows, cols: 2, mode: 'max' }, heads: [{ ...head, weights, offset }] });
    expect(() => checkSource(grid(new Float32Array(4), 1))).toThrow(SurfaceSourceError);
    expect(() => checkSource(grid(new Float32Array(4), 1))).toThrow(/heads\[0\]\.weights: needs elements 1 … 4, but it holds 4/);
    expect(() => checkSource(grid(new Float32Array(40), 0, 5))).toThrow(/grid\.rows: must be an integer from 1 to 4/);
    const map = new Float32Array(16);
    const cpu = (seqLen: number): SurfaceSource => ({
      kind: 'cpu-maps',
      dHead: 2,
      causal: true,
      heads: [0, 1].map((h) => ({ ...head, head: h, seqLen: h === 1 ? seqLen : 4, scores: map, weights: map, mapOffset: 0, q: map, k: map, qOffset: 0, kOffset: 0, rowStride: 2 })),
    });
    expect(checkSource(cpu(4))).toEqual({ seqLen: 4, kvLen: 4, heads: 2 });
    expect(() => checkSource(cpu(3))).toThrow(/heads\[1\]: is 3 × 4, but heads\[0\] is 4 × 4/);
  });

  it('builds weights-only planes from each head’s grid cells, with causal mask fractions', async () => {
    const weights = Float32Array.from([9, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
    const source: Extract<SurfaceSource, { kind: 'weights-grid' }> = {
      kind: 'weights-grid',
      causal: true,
      grid: { rows: 2, cols: 2, mode: 'max' },
      heads: [{ ...head, weights, offset: 6 }, { ...head, head: 1, weights, offset: 2 }],
    };
    const plan: GridPlan = { seqLen: 4, kvLen: 4, headFirst: 0, headCount: 2, rows: 2, cols: 2, mode: 'max' };
    const planes = await weightsGridPlanes(source, plan, null);
    const cells = 8;
    expect(Array.from(planes.subarray(3 * cells, 4 * cells))).toEqual([5, 6, 7, 8, 1, 2, 3, 4]);
    // Blocks of 2 × 2: (0, 1) covers queries 0–1, keys 2–3, all after their query (masked); (0, 0) one entry of four; (1, 1) one of four.
    expect(Array.from(planes.subarray(4 * cells, 5 * cells))).toEqual([0.25, 1, 0, 0.25, 0.25, 1, 0, 0.25]);
    expect(Array.from(planes.subarray(0, 3 * cells)).every((v) => v === 0)).toBe(true);
  });
});
