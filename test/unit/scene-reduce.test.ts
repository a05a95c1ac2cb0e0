import { describe, expect, it } from 'vitest';
import { attentionCpu, makeRandomInputs, resolveShape, type AttentionShape } from '../../src/index';
import {
  GRID_CELL_CAPACITY,
  blockMeanDot,
  blockOf,
  blockStart,
  maxSideFor,
  planGrid,
  reduceAttention,
  reduceMap,
  type GridPlan,
} from '../../src/reference/reduce';
import { axisTicks } from '../../src/scene/labels';
import { arrangeHeads, buildGeometryArrays, displayRanges, displayValues, heightOf, makeLayout, rayPick } from '../../src/scene/layout';

const NEG = -Infinity;

function plan(seqLen: number, kvLen: number, rows: number, cols: number, mode: 'max' | 'mean', headFirst = 0, headCount = 1): GridPlan {
  return { seqLen, kvLen, rows, cols, mode, headFirst, headCount };
}

describe('blocks', () => {
  it('split lengths that the grid does not divide into blocks differing by at most one', () => {
    // 7 entries into 3 blocks: [0,2) [2,4) [4,7)
    expect([0, 1, 2, 3].map((n) => blockStart(n, 3, 7))).toEqual([0, 2, 4, 7]);
    for (const [length, cells] of [[300, 256], [37, 5], [1000, 128], [13, 13]]) {
      const sizes = Array.from({ length: cells }, (_, n) => blockStart(n + 1, cells, length) - blockStart(n, cells, length));
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      for (let entry = 0; entry < length; entry++) {
        const n = blockOf(entry, cells, length);
        expect(blockStart(n, cells, length) <= entry && entry < blockStart(n + 1, cells, length)).toBe(true);
      }
    }
  });

  it('plans at most 256 per side for one head and stay within capacity for all heads', () => {
    expect(planGrid({ seqLen: 1000, kvLen: 300, heads: 4 }, 2, 'max')).toMatchObject({ rows: 256, cols: 256, headFirst: 2, headCount: 1 });
    expect(planGrid({ seqLen: 6, kvLen: 6, heads: 4 }, 0, 'max')).toMatchObject({ rows: 6, cols: 6 });
    for (let heads = 2; heads <= 64; heads++) {
      const side = maxSideFor(heads);
      expect(side).toBeLessThanOrEqual(128);
      expect(heads * side * side).toBeLessThanOrEqual(GRID_CELL_CAPACITY);
    }
  });
});

describe('reduceMap on hand-made maps', () => {
  // One head, 3 × 5, with masked (−∞) entries; reduced to 2 × 2:
  // rows [0,1) [1,3), cols [0,2) [2,5).
  const map = [
    1, NEG, NEG, NEG, NEG,
    2, 3, NEG, NEG, NEG,
    4, 5, 6, NEG, NEG,
  ];
  it('max skips masked entries; a fully masked block is −∞', () => {
    expect([...reduceMap(map, 1, plan(3, 5, 2, 2, 'max'))]).toEqual([1, NEG, 5, 6]);
  });
  it('mean averages the unmasked entries only', () => {
    expect([...reduceMap(map, 1, plan(3, 5, 2, 2, 'mean'))]).toEqual([1, NEG, 3.5, 6]);
  });
  it('is the identity when the grid is exact, and picks the right head', () => {
    const two = [...map.map(() => 0), ...map];
    expect([...reduceMap(two, 2, plan(3, 5, 3, 5, 'max', 1))]).toEqual(map);
  });
  it('reduces a 5 × 7 ramp to 2 × 3 by hand', () => {
    const ramp = Array.from({ length: 35 }, (_, n) => n); // value = 7·i + j
    // rows [0,2) [2,5); cols [0,2) [2,4) [4,7)
    expect([...reduceMap(ramp, 1, plan(5, 7, 2, 3, 'max'))]).toEqual([8, 10, 13, 29, 31, 34]);
    expect([...reduceMap(ramp, 1, plan(5, 7, 2, 3, 'mean'))]).toEqual([4, 6, 8.5, 21.5, 23.5, 26]);
  });
});

describe('block means of q·k', () => {
  it('q̄·k̄ equals the brute-force mean of q_i·k_j', () => {
    const shape = resolveShape({ seqLen: 11, kvLen: 9, dModel: 6, heads: 3, dHead: 4 });
    const cpu = attentionCpu(shape, makeRandomInputs(shape, 4));
    for (const [head, i0, i1, j0, j1] of [[0, 0, 11, 0, 9], [2, 3, 7, 1, 2], [1, 5, 6, 4, 9]]) {
      let sum = 0;
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) {
          for (let d = 0; d < shape.dHead; d++) sum += cpu.q[i * shape.width + head * shape.dHead + d] * cpu.k[j * shape.width + head * shape.dHead + d];
        }
      }
      expect(blockMeanDot(cpu.q, cpu.k, shape, head, i0, i1, j0, j1)).toBeCloseTo(sum / ((i1 - i0) * (j1 - j0)), 10);
    }
  });
});

describe('reduceAttention', () => {
  const shapes: AttentionShape[] = [
    { seqLen: 7, dModel: 5, heads: 2, dHead: 3, causal: true },
    { seqLen: 10, kvLen: 6, dModel: 4, heads: 1, dHead: 2 },
  ];
  for (const raw of shapes) {
    it(`exact grid reproduces q·k, scores and weights ${JSON.stringify(raw)}`, () => {
      const shape = resolveShape(raw);
      const cpu = attentionCpu(shape, makeRandomInputs(shape, 8));
      const p = planGrid(shape, -1, 'max');
      const planes = reduceAttention(shape, cpu, p);
      const cells = shape.heads * shape.seqLen * shape.kvLen;
      for (let h = 0; h < shape.heads; h++) {
        for (let i = 0; i < shape.seqLen; i++) {
          for (let j = 0; j < shape.kvLen; j++) {
            const n = (h * shape.seqLen + i) * shape.kvLen + j;
            let dot = 0;
            for (let d = 0; d < shape.dHead; d++) dot += cpu.q[i * shape.width + h * shape.dHead + d] * cpu.k[j * shape.width + h * shape.dHead + d];
            const masked = shape.causal && j > i;
            expect(planes[n]).toBeCloseTo(dot, 5);
            expect(planes[cells + n]).toBeCloseTo(dot / Math.sqrt(shape.dHead), 5);
            // Unmasked: the stored score; masked: 0 plus a mask fraction of 1 (never −∞).
            expect(planes[2 * cells + n]).toBe(masked ? 0 : Math.fround(cpu.scores[n]));
            expect(planes[3 * cells + n]).toBe(cpu.weights[n]);
            expect(planes[4 * cells + n]).toBe(masked ? 1 : 0);
          }
        }
      }
    });
  }

  it('reduced causal grid: max/mean per block against brute force', () => {
    const shape = resolveShape({ seqLen: 9, dModel: 4, heads: 2, dHead: 3, causal: true });
    const cpu = attentionCpu(shape, makeRandomInputs(shape, 2));
    const scale = 1 / Math.sqrt(shape.dHead);
    for (const mode of ['max', 'mean'] as const) {
      const p = plan(9, 9, 4, 3, mode, 1, 1); // rows [0,2) [2,4) [4,6) [6,9); cols [0,3) [3,6) [6,9)
      const planes = reduceAttention(shape, cpu, p);
      const cells = 12;
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 3; c++) {
          const dots: number[] = [];
          const unmasked: number[] = [];
          const weights: number[] = [];
          for (let i = blockStart(r, 4, 9); i < blockStart(r + 1, 4, 9); i++) {
            for (let j = 3 * c; j < 3 * c + 3; j++) {
              let dot = 0;
              for (let d = 0; d < 3; d++) dot += cpu.q[i * shape.width + 3 + d] * cpu.k[j * shape.width + 3 + d];
              dots.push(dot);
              weights.push(cpu.weights[81 + i * 9 + j]);
              if (j <= i) unmasked.push(cpu.scores[81 + i * 9 + j]);
            }
          }
          const reduce = (v: number[]) => (mode === 'max' ? Math.max(...v) : v.reduce((a, b) => a + b, 0) / v.length);
          const n = r * 3 + c;
          expect(planes[n]).toBeCloseTo(reduce(dots), 5);
          expect(planes[cells + n]).toBeCloseTo(reduce(dots) * scale, 5);
          expect(planes[2 * cells + n]).toBeCloseTo(unmasked.length ? reduce(unmasked) : 0, 5);
          expect(planes[3 * cells + n]).toBeCloseTo(reduce(weights), 6);
          expect(planes[4 * cells + n]).toBeCloseTo(1 - unmasked.length / dots.length, 6);
        }
      }
      // The top-right block (queries 0–1, keys 6–8) is fully masked.
      expect(planes[4 * cells + 2]).toBe(1);
    }
  });
});

describe('layout, heights and picking', () => {
  const p = plan(4, 4, 4, 4, 'max');
  const layout = makeLayout(p);
  it('lays out the model view as rows of layers and columns of heads when the heads name layers', () => {
    // 2 layers × 4 heads of 32 tokens: surfaces 4 × 4 world units, 0.8 between heads, 2.4 between layers.
    const grid = planGrid({ seqLen: 32, kvLen: 32, heads: 8 }, -1, 'max');
    const model = makeLayout(grid, arrangeHeads(Array.from({ length: 8 }, (_, i) => ({ layer: Math.floor(i / 4), head: i % 4 }))));
    expect(model.columns).toBe(4);
    const W = 4;
    const totalW = 4 * W + 3 * 0.8;
    const totalD = 2 * W + 2.4;
    expect(model.bounds.maxX - model.bounds.minX).toBeCloseTo(totalW, 12);
    expect(model.bounds.maxZ - model.bounds.minZ).toBeCloseTo(totalD, 12);
    // Head i = layer ⌊i/4⌋ (row, z), head i mod 4 (column, x).
    model.origins.forEach(([x, z], i) => {
      expect(x, `x of ${i}`).toBeCloseTo(-totalW / 2 + (i % 4) * (W + 0.8), 12);
      expect(z, `z of ${i}`).toBeCloseTo(-totalD / 2 + Math.floor(i / 4) * (W + 2.4), 12);
    });
    // Without columns: near-square (3 per row for 8 heads), as before.
    expect(makeLayout(grid).columns).toBe(3);
    // One layer's heads: one row, as wide as the heads shown.
    expect(makeLayout(plan(4, 4, 4, 4, 'max', 0, 2), arrangeHeads([{ layer: 3, head: 0 }, { layer: 3, head: 1 }])).columns).toBe(2);
  });
  it('builds 2×2 vertices per cell for small grids', () => {
    const arrays = buildGeometryArrays(layout);
    expect(arrays.positions.length / 3).toBe(64);
    expect(arrays.index.length).toBe(7 * 7 * 6);
    expect(Math.max(...arrays.cellOfVertex)).toBe(15);
  });
  it('maps values to heights with masked cells on the floor only in masked/weights stages', () => {
    // planes: raw, scaled, masked, weights, maskFrac for 16 cells
    const planes = new Float32Array(5 * 16);
    for (let n = 0; n < 16; n++) {
      planes[n] = n;
      planes[16 + n] = n / 2;
      planes[32 + n] = n / 2;
      planes[48 + n] = n / 15;
    }
    planes[64 + 3] = 1; // cell 3 fully masked
    const ranges = displayRanges(planes, 16);
    expect(ranges).toEqual({ lo: 0, hi: 15, wMax: 1 });
    const raw = displayValues(planes, 16, ranges, [1, 0, 0, 0]);
    expect(raw.t[15]).toBeCloseTo(1);
    expect(raw.mask[3]).toBe(0);
    const weights = displayValues(planes, 16, ranges, [0, 0, 0, 1]);
    expect(weights.mask[3]).toBe(1);
    expect(heightOf(layout, weights.t[3], weights.mask[3])).toBe(layout.floor);
  });
  it('a vertical ray picks the cell under it; a ray beside the surface picks nothing', () => {
    const heights = new Float32Array(16).fill(0.5);
    const [ox, oz] = layout.origins[0];
    const cw = layout.width / 4;
    const hit = rayPick(layout, heights, [ox + 2.5 * cw, 10, oz + 1.5 * cw], [0, -1, 0]);
    expect(hit).toEqual({ hz: 0, r: 1, c: 2 });
    expect(rayPick(layout, heights, [ox - 1, 10, oz], [0, -1, 0])).toBeNull();
    // An oblique ray hits the tall cell in front of a lower one behind it.
    heights[(2 * 4) + 1] = 1.2;
    const oblique = rayPick(layout, heights, [ox + 1.5 * cw, 1, oz + 4 * cw + 2], [0, -0.05, -1]);
    expect(oblique).toEqual({ hz: 0, r: 2, c: 1 });
  });
  it('labels every token when there are few, indices otherwise', () => {
    expect(axisTicks(3, ['a', 'b', 'c']).map((t) => t.text)).toEqual(['a', 'b', 'c']);
    const many = axisTicks(600, []);
    expect(many[0]).toEqual({ entry: 0, text: '0' });
    expect(many.length).toBeLessThanOrEqual(10);
    expect(many[many.length - 1].entry).toBe(599);
  });
});
