import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expandLaneTemplate } from '../../src/kernels/lane-tiles';

const template = (name: string) => readFileSync(new URL(`../../shaders/${name}-lanes.wgsl`, import.meta.url), 'utf8');

describe('lane-tile templates', () => {
  it('expand to rows × cols/4 named accumulators, rows/4 row loads and cols/4 column loads per lane', () => {
    const code = expandLaneTemplate(template('scores'), { rows: 8, cols: 16 });
    const declared = [...code.matchAll(/var (acc\d+_\d+) = 0\.0;/g)].map((m) => m[1]);
    expect(declared).toHaveLength(8 * 4);
    expect(new Set(declared).size).toBe(32);
    expect(declared).toContain('acc7_3');
    expect(code).toMatch(/let ra1 = /);
    expect(code).not.toMatch(/let ra2 = /);
    expect(code).toMatch(/let cb3 = /);
    expect(code).not.toMatch(/let cb4 = /);
    // Row r comes from lane r % 4 of the loads for r / 4: row 6 is lane 2 of load 1.
    expect(code).toContain('subgroupBroadcast(a1_0, 2u)');
    expect(code).toContain('acc6_3 = fma(x0, b3_0, acc6_3);');
    expect(code).toContain('const TILE_ROWS: u32 = 8u;');
    expect(code).not.toMatch(/^\s*\/\/#[a-z]/m);
  });

  it('expand every kernel for every tile size the tunings use', () => {
    for (const name of ['projections', 'scores', 'output']) {
      for (const [rows, cols] of [[4, 4], [16, 32], [32, 32], [8, 64]]) {
        const code = expandLaneTemplate(template(name), { rows, cols });
        expect(code.match(/var acc\d+_\d+ = 0\.0;/g)).toHaveLength((rows * cols) / 4);
        // Every accumulator is stored, once.
        const stored = code.split('\n').filter((line) => /\] = /.test(line)).flatMap((line) => line.match(/acc\d+_\d+/g) ?? []);
        expect(stored).toHaveLength((rows * cols) / 4);
        expect(new Set(stored).size).toBe((rows * cols) / 4);
      }
    }
  });

  it('refuse tile sizes that are not multiples of 4 from 4 to 64, naming the field', () => {
    const scores = template('scores');
    for (const [rows, cols, field] of [[0, 4, 'rows'], [6, 4, 'rows'], [4, 2, 'cols'], [4, 68, 'cols'], [Number.NaN, 4, 'rows'], [4.5, 4, 'rows']] as const) {
      expect(() => expandLaneTemplate(scores, { rows, cols })).toThrow(new RegExp(`lane tile ${field} must be a multiple of 4 from 4 to 64; got`));
    }
  });

  it('refuse unknown directives and a step before its loads', () => {
    expect(() => expandLaneTemplate('//#bogus x', { rows: 4, cols: 4 })).toThrow(/unknown directive \/\/#bogus/);
    expect(() => expandLaneTemplate('//#step 1', { rows: 4, cols: 4 })).toThrow(/before \/\/#row-load/);
    expect(() => expandLaneTemplate('//#row-load a\n//#col-load b\n//#step 0', { rows: 4, cols: 4 })).toThrow(/bad \/\/#step/);
  });
});
