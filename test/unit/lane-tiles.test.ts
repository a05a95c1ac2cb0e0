// The lane-tile kernels (shaders/*-lanes.wgsl after shaders/parts/lanes.wgsl) written out for tile
// sizes by kernelSource (src/kernels/shaders.ts, src/kernels/shader-variants.ts).
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { checkLaneTile } from '../../src/kernels/lane-tiles';
import { SHADER_FILES, kernelSource } from '../../src/kernels/shaders';

const LANE_KERNELS = ['projectionsLanes', 'scoresLanes', 'outputLanes'] as const;

/** 1-based line of the only line of shaders/`file` that contains `text`. */
function lineOf(file: string, text: string): number {
  const lines = SHADER_FILES[file].split('\n');
  const found = lines.flatMap((line, index) => (line.includes(text) ? [index + 1] : []));
  expect(found, `${text} in ${file}`).toHaveLength(1);
  return found[0];
}

describe('lane-tile kernels', () => {
  it('expand to rows × cols/4 named accumulators, rows/4 row loads and cols/4 column loads per lane', () => {
    const { code } = kernelSource('scoresLanes', { rows: 8, cols: 16 });
    const declared = [...code.matchAll(/var (acc\d+_\d+) = 0\.0;/g)].map((m) => m[1]);
    expect(declared).toHaveLength(8 * 4);
    expect(new Set(declared).size).toBe(32);
    expect(declared).toContain('acc7_3');
    expect(code).toMatch(/let ra1 = /);
    expect(code).not.toMatch(/let ra2 = /);
    expect(code).toMatch(/let cb3 = /);
    expect(code).not.toMatch(/let cb4 = /);
    // Row r comes from lane r % 4 of the loads for r / 4: row 6 is lane 2 of load 1.
    expect(code).toContain('subgroupBroadcast(a1, 2u)');
    expect(code).toContain('acc6_3 = fma(x, b3, acc6_3);');
    expect(code).toContain('const TILE_ROWS: u32 = 8u;');
    expect(code).toContain('const TILE_COLS: u32 = 16u;');
  });

  it('write the step of a 4 × 8 tile out in full, each line traced to its //#unroll in scores-lanes.wgsl', () => {
    const { code, origins } = kernelSource('scoresLanes', { rows: 4, cols: 8 });
    const lines = code.split('\n');
    const start = lines.indexOf('    let a0 = qkv[ra0 + d];');
    expect(start).toBeGreaterThan(0);
    const row = (r: number) => [
      '    {',
      `      let x = subgroupBroadcast(a0, ${r}u);`,
      `      acc${r}_0 = fma(x, b0, acc${r}_0);`,
      `      acc${r}_1 = fma(x, b1, acc${r}_1);`,
      '    }',
    ];
    expect(lines.slice(start, start + 24)).toEqual([
      '    let a0 = qkv[ra0 + d];',
      '    let b0 = qkv[cb0 + d];',
      '    let b1 = qkv[cb1 + d];',
      ...row(0),
      ...row(1),
      ...row(2),
      ...row(3),
      '  }',
    ]);
    const file = 'scores-lanes.wgsl';
    expect(origins[start]).toEqual({ file, line: lineOf(file, 'let a{p} = qkv[ra{p} + d];'), note: 'unrolled: p = 0' });
    expect(origins[start + 3 + 5 * 2]).toEqual({ file, line: lineOf(file, 'let a{p} = qkv[ra{p} + d];') + 3, note: 'unrolled: r = 2' });
    expect(origins[start + 3 + 5 * 2 + 1]).toEqual({ file, line: lineOf(file, 'subgroupBroadcast'), note: 'unrolled: r = 2' });
    expect(origins[start + 3 + 5 * 2 + 2]).toEqual({ file, line: lineOf(file, '//#unroll m < TILE_COLS / 4: acc'), note: 'unrolled: m = 0; r = 2' });
  });

  it('expand every kernel for every tile size the tunings use', () => {
    for (const name of LANE_KERNELS) {
      for (const [rows, cols] of [[4, 4], [16, 32], [32, 32], [8, 64]]) {
        const { code } = kernelSource(name, { rows, cols });
        expect(code.match(/var acc\d+_\d+ = 0\.0;/g)).toHaveLength((rows * cols) / 4);
        expect(code.match(/let x = subgroupBroadcast/g)).toHaveLength(rows);
        // Every accumulator is stored, once (projections through storeProjection).
        const stored = code.split('\n').filter((line) => /\] = |storeProjection\(/.test(line) && !line.startsWith('fn ')).flatMap((line) => line.match(/acc\d+_\d+/g) ?? []);
        expect(stored).toHaveLength((rows * cols) / 4);
        expect(new Set(stored).size).toBe((rows * cols) / 4);
      }
    }
  });

  it('refuse tile sizes that are not multiples of 4 from 4 to 64, naming the field', () => {
    for (const [rows, cols, field] of [[0, 4, 'rows'], [6, 4, 'rows'], [4, 2, 'cols'], [4, 68, 'cols'], [Number.NaN, 4, 'rows'], [4.5, 4, 'rows']] as const) {
      const given = String(field === 'rows' ? rows : cols).replace('.', '\\.');
      const message = new RegExp(`^lane tile ${field}: got ${given}; allowed: a multiple of 4 from 4 to 64; pick such a tile in the tuning's laneTiles`);
      expect(() => checkLaneTile({ rows, cols })).toThrow(message);
      expect(() => checkLaneTile({ rows, cols })).toThrow(AttentionInputError);
      expect(() => kernelSource('scoresLanes', { rows, cols })).toThrow(message);
    }
  });
});
