// What hover and export read of a model view (src/app/shown.ts modelMaps): a cell of surface i
// is layer ⌊i/H⌋, head i mod H of the run's own per-layer maps, and the whole map is the layers
// stacked layer-major. The maps are numbered by hand (value = 1000·layer + 100·head + 10·query
// + key), so every expected number is written out here.
import { describe, expect, it } from 'vitest';
import type { ModelView } from '../../src/app/model-engine';
import { gridCell } from '../../src/app/model-view';
import { modelMaps } from '../../src/app/shown';
import type { CellInfo } from '../../src/scene';

const L = 2;
const H = 2;
const T = 2;

/** A layer's scores (or weights, offset by 0.5) numbered as the header says. */
function numbered(layer: number, offset: number): Float32Array {
  const out = new Float32Array(H * T * T);
  for (let h = 0; h < H; h++) for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) out[(h * T + q) * T + k] = 1000 * layer + 100 * h + 10 * q + k + offset;
  return out;
}

function fakeView(everyLayer: boolean, layer = 1): ModelView {
  const layers = Array.from({ length: L }, (_, l) => ({ q: new Float32Array(0), k: new Float32Array(0), v: new Float32Array(0), attn: new Float32Array(0), scores: numbered(l, 0), weights: numbered(l, 0.5) }));
  const run = { model: { config: { layers: L, heads: H, dModel: 4 } }, input: { ids: [0, 1], words: ['<eos>', 'cat'] }, layers } as unknown as ModelView['run'];
  const heads = everyLayer ? L * H : H;
  return {
    run,
    selection: { layer, head: everyLayer ? -1 : 0 },
    shape: { seqLen: T, kvLen: T, dModel: 4, heads, dHead: 2, causal: true, width: 4 },
    source: null as unknown as ModelView['source'],
    info: { logits: new Float32Array(0), vocab: [], reports: [], selection: everyLayer ? null : { layer, head: 0 }, headOf: (i) => (everyLayer ? gridCell(i, H) : { layer, head: i }) },
  };
}

const cell = (head: number, query: number, key: number) => ({ head, query, key, queryEnd: query + 1, keyEnd: key + 1 }) as CellInfo;

describe('a model view as hover and export read it', () => {
  it('reads surface i of every layer × head from layer ⌊i/H⌋, head i mod H', async () => {
    const maps = modelMaps(fakeView(true));
    // Surface 3 = layer 1, head 1; query 1, key 0.
    expect(await maps.readCell(cell(3, 1, 0))).toEqual({ score: 1110, weight: 1110.5 });
    expect(await maps.readCell(cell(0, 0, 1))).toEqual({ score: 1, weight: 1.5 });
    expect(maps.tokens).toEqual(['<eos>', 'cat']);
    expect(maps.model?.headOf(2)).toEqual({ layer: 1, head: 0 });
  });

  it('one layer: surface i is that layer’s head i', async () => {
    const maps = modelMaps(fakeView(false, 1));
    expect(await maps.readCell(cell(0, 1, 1))).toEqual({ score: 1011, weight: 1011.5 });
  });

  it('the whole map stacks the layers shown, layer-major', async () => {
    const all = await modelMaps(fakeView(true)).readMap();
    expect(Array.from(all.scores)).toEqual([0, 1, 10, 11, 100, 101, 110, 111, 1000, 1001, 1010, 1011, 1100, 1101, 1110, 1111]);
    const one = await modelMaps(fakeView(false, 1)).readMap();
    expect(Array.from(one.weights)).toEqual([1000.5, 1001.5, 1010.5, 1011.5, 1100.5, 1101.5, 1110.5, 1111.5]);
  });

  it('has no inputs to export as tensors, and says what to export instead', () => {
    const inputs = modelMaps(fakeView(true)).exportInputs();
    expect('unavailable' in inputs && inputs.unavailable).toContain('export the map as CSV or JSON');
  });
});
