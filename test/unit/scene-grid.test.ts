/** Precomputed weight grids (fused path) in the scene: block mapping, shrinking, mask fractions. */
import { describe, expect, it } from 'vitest';
import { reduceMap, type GridPlan } from '../../src/reference/reduce';
import { cellOfEntry, cellSizeText, cellStart, downsampleGrid, maskedCount, planPrecomputed, weightsOnlyPlanes } from '../../src/scene/grid';

/** A deterministic pseudo-random heads × seqLen × kvLen map with causal zeros. */
function weightsMap(heads: number, seqLen: number, kvLen: number, causal: boolean): Float32Array {
  const out = new Float32Array(heads * seqLen * kvLen);
  let x = 12345;
  for (let n = 0; n < out.length; n++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = n % kvLen;
    const i = Math.floor(n / kvLen) % seqLen;
    out[n] = causal && j > i ? 0 : x / 2147483648;
  }
  return out;
}

function plan(seqLen: number, kvLen: number, rows: number, cols: number, mode: 'max' | 'mean', headCount = 1): GridPlan {
  return { seqLen, kvLen, rows, cols, mode, headFirst: 0, headCount };
}

describe('cells of a shrunk grid', () => {
  it('cellStart and cellOfEntry are inverse and cover every entry once', () => {
    for (const [length, gridCells, cells] of [[300, 200, 128], [64, 16, 16], [37, 37, 5], [1000, 256, 85]]) {
      for (let n = 0; n < cells; n++) {
        const a = cellStart(n, cells, length, gridCells);
        const b = cellStart(n + 1, cells, length, gridCells);
        expect(b).toBeGreaterThan(a);
        for (let e = a; e < b; e++) expect(cellOfEntry(e, cells, length, gridCells)).toBe(n);
      }
      expect(cellStart(cells, cells, length, gridCells)).toBe(length);
    }
    // Without shrinking, cell n of 16 over 64 entries starts at ⌊n·64/16⌋: cell 3 at 12.
    expect(cellStart(3, 16, 64, 16)).toBe(12);
    expect(cellStart(3, 16, 64)).toBe(12);
    // Shrunk: shown cell 5 of 128 starts at grid block ⌊5·200/128⌋ = 7, which starts at entry
    // ⌊7·300/200⌋ = 10; cell 6 at block ⌊6·200/128⌋ = 9, entry ⌊9·300/200⌋ = 13.
    expect(cellStart(5, 128, 300, 200)).toBe(10);
    expect(cellStart(6, 128, 300, 200)).toBe(13);
    expect(cellOfEntry(12, 128, 300, 200)).toBe(5);
    expect(cellSizeText(16, 512, 16)).toBe('32');
    expect(cellSizeText(128, 300, 200)).toMatch(/^\d+–\d+$/);
  });

  it('plans keep the grid when it fits and shrink it for all heads', () => {
    const shape = { seqLen: 4096, kvLen: 4096, heads: 4 };
    const grid = { rows: 256, cols: 256, mode: 'max' as const };
    expect(planPrecomputed(shape, grid, 2)).toMatchObject({ headFirst: 2, headCount: 1, rows: 256, cols: 256, mode: 'max' });
    // Four heads side by side: ⌊256 / ⌈√4⌉⌋ = 128 cells a side at most.
    expect(planPrecomputed(shape, grid, -1)).toMatchObject({ headFirst: 0, headCount: 4, rows: 128, cols: 128 });
  });
});

/**
 * Where shown cell n of `cells` starts, when the precomputed grid has `gridCells` blocks over
 * `length` entries: a shown cell covers whole grid blocks, ⌊n·gridCells/cells⌋ onwards, and grid
 * block b starts at entry ⌊b·length/gridCells⌋ (written here from that description, not taken
 * from src/scene/grid).
 */
function composedStart(n: number, cells: number, length: number, gridCells: number): number {
  return Math.floor((Math.floor((n * gridCells) / cells) * length) / gridCells);
}

describe('downsampleGrid', () => {
  for (const mode of ['max', 'mean'] as const) {
    it(`${mode}: shrinking a grid equals reducing the map over the composed blocks`, () => {
      const heads = 2;
      const seqLen = 50;
      const kvLen = 43;
      const map = weightsMap(heads, seqLen, kvLen, true);
      const grid = { rows: 17, cols: 13, mode };
      const values = reduceMap(map, heads, plan(seqLen, kvLen, grid.rows, grid.cols, mode, heads));
      const target = plan(seqLen, kvLen, 6, 5, mode, heads);
      const shrunk = downsampleGrid(values, grid, target);
      for (let h = 0; h < heads; h++) {
        for (let r = 0; r < 6; r++) {
          for (let c = 0; c < 5; c++) {
            let best = -Infinity;
            let sum = 0;
            let n = 0;
            for (let i = composedStart(r, 6, seqLen, 17); i < composedStart(r + 1, 6, seqLen, 17); i++) {
              for (let j = composedStart(c, 5, kvLen, 13); j < composedStart(c + 1, 5, kvLen, 13); j++) {
                const v = map[(h * seqLen + i) * kvLen + j];
                best = Math.max(best, v);
                sum += v;
                n++;
              }
            }
            expect(shrunk[(h * 6 + r) * 5 + c]).toBeCloseTo(mode === 'max' ? best : sum / n, 5);
          }
        }
      }
    });
  }
});

describe('mask fractions', () => {
  it('maskedCount counts j > i', () => {
    for (const [i0, i1, j0, j1] of [[0, 4, 0, 4], [3, 9, 5, 12], [10, 12, 0, 3], [0, 2, 5, 9], [7, 8, 7, 8]]) {
      let brute = 0;
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) if (j > i) brute++;
      expect(maskedCount(i0, i1, j0, j1)).toBe(brute);
    }
  });

  it('fully masked blocks (first key after last query) get maskFrac 1, the rest less', () => {
    const p = plan(64, 64, 8, 8, 'max', 2);
    const cells = 2 * 64;
    const planes = weightsOnlyPlanes(new Float32Array(cells).fill(0.5), p, true, 16, 16);
    for (let h = 0; h < 2; h++) {
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          const frac = planes[4 * cells + (h * 8 + r) * 8 + c];
          const firstKey = composedStart(c, 8, 64, 16);
          const lastQuery = composedStart(r + 1, 8, 64, 16) - 1;
          if (firstKey > lastQuery) expect(frac).toBe(1);
          else expect(frac).toBeLessThan(1);
        }
      }
    }
    expect(planes.subarray(3 * cells, 4 * cells).every((w) => w === 0.5)).toBe(true);
    expect(planes.subarray(0, 3 * cells).every((v) => v === 0)).toBe(true);
    const open = weightsOnlyPlanes(new Float32Array(cells), p, false, 16, 16);
    expect(open.subarray(4 * cells).every((v) => v === 0)).toBe(true);
  });
});
