// //#unroll (src/kernels/unroll.ts) on small hand-written shaders: the expected lines and their
// origins are written out in full.
import { describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { UnrollError, expandWgsl } from '../../src/kernels/unroll';

/** `main.wgsl` given as lines, expanded for `sizes`. */
const expand = (lines: string[], sizes: Record<string, number> = {}) => expandWgsl([{ file: 'main.wgsl', text: lines.join('\n') }], sizes);
const codeOf = (lines: string[], sizes: Record<string, number> = {}) => expand(lines, sizes).code.split('\n');

describe('//#unroll', () => {
  it('repeats one line (indented like the directive) or a block, loops nested left to right', () => {
    const code = codeOf([
      'fn f() {',
      '  //#unroll r < TILE_ROWS: var q{r} = {r}u * WG_Y;',
      '  //#unroll r < 2',
      '  let a{r} = x[{r}];',
      '  //#unroll h < TILE_COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});',
      '  //#end',
      '}',
    ], { TILE_ROWS: 3, TILE_COLS: 8 });
    expect(code).toEqual([
      'fn f() {',
      '  var q0 = 0u * WG_Y;',
      '  var q1 = 1u * WG_Y;',
      '  var q2 = 2u * WG_Y;',
      '  let a0 = x[0];',
      '  acc0_0 = fma(a0, b0, acc0_0);',
      '  acc0_1 = fma(a0, b1, acc0_1);',
      '  let a1 = x[1];',
      '  acc1_0 = fma(a1, b0, acc1_0);',
      '  acc1_1 = fma(a1, b1, acc1_1);',
      '}',
    ]);
  });

  it('fills integer expressions in unrolled lines only; WGSL braces and comments stay as they are', () => {
    const code = codeOf([
      'let n = TILE_ROWS * 2u; // {r} is not a placeholder here',
      '//#unroll p < TILE_ROWS / 4, m < 2: { let x = a{p}[{4 * p + m}u]; y{(p + 1) * 10 % 7 - m}(); } // {m}',
    ], { TILE_ROWS: 8 });
    expect(code).toEqual([
      'let n = TILE_ROWS * 2u; // {r} is not a placeholder here',
      '{ let x = a0[0u]; y3(); } // {m}',
      '{ let x = a0[1u]; y2(); } // {m}',
      '{ let x = a1[4u]; y6(); } // {m}',
      '{ let x = a1[5u]; y5(); } // {m}',
    ]);
  });

  it('puts files one after another, each line traced to its file and line, with the iteration', () => {
    const { code, origins } = expandWgsl([
      { file: 'head.wgsl', text: 'const A = 1u;\n' },
      { file: 'main.wgsl', text: 'fn f() {\n  //#unroll i < 2\n  x{i};\n  //#unroll j < N: y{i}_{j};\n  //#end\n}\n' },
    ], { N: 2 });
    expect(code.split('\n')).toEqual(['const A = 1u;', 'fn f() {', '  x0;', '  y0_0;', '  y0_1;', '  x1;', '  y1_0;', '  y1_1;', '}']);
    expect(origins).toEqual([
      { file: 'head.wgsl', line: 1 },
      { file: 'main.wgsl', line: 1 },
      { file: 'main.wgsl', line: 3, note: 'unrolled: i = 0' },
      { file: 'main.wgsl', line: 4, note: 'unrolled: j = 0; i = 0' },
      { file: 'main.wgsl', line: 4, note: 'unrolled: j = 1; i = 0' },
      { file: 'main.wgsl', line: 3, note: 'unrolled: i = 1' },
      { file: 'main.wgsl', line: 4, note: 'unrolled: j = 0; i = 1' },
      { file: 'main.wgsl', line: 4, note: 'unrolled: j = 1; i = 1' },
      { file: 'main.wgsl', line: 6 },
    ]);
  });

  it('refuses what it cannot read, naming the file and line and saying what to fix', () => {
    const fix = 'Fix that line of shaders/main\\.wgsl \\(src/kernels/unroll\\.ts describes //#unroll\\)\\.$';
    expect(() => expand(['ok', '  //#unroll r < 2: x{ROWZ};'], { ROWS: 4 })).toThrow(new RegExp(`^main\\.wgsl line 2: unknown name ROWZ in "ROWZ" \\(known: ROWS, r\\)\\. ${fix}`));
    expect(() => expand(['//#unroll r < COLS: x'])).toThrow(/main\.wgsl line 1: unknown name COLS in "COLS" \(known: none\)/);
    expect(() => expand(['//#unroll r < 2: x{1 +};'])).toThrow(/line 1: the expression "1 \+" ends early/);
    expect(() => expand(['//#unroll r < 2: x{2 $ 3};'])).toThrow(/line 1: cannot read "\$ 3"/);
    expect(() => expand(['//#unroll r < 2: x{4 / r};'])).toThrow(/line 1: division by zero in "4 \/ r"/);
    expect(() => expand(['//#unroll r < 2: x{(r + 1};'])).toThrow(/line 1: missing \) in "\(r \+ 1"/);
    expect(() => expand(['//#unroll r < 2: x{r;'])).toThrow(/line 1: unclosed placeholder "\{r;"/);
    expect(() => expand(['fn f() {', '  //#each r < 2: x', '}'])).toThrow(/^main\.wgsl line 2: unknown directive \/\/#each \(only \/\/#unroll and \/\/#end exist\)/);
    expect(() => expand(['//#unroll r < 2', 'x'])).toThrow(/main\.wgsl line 1: \/\/#unroll is never closed by \/\/#end/);
    expect(() => expand(['x', '//#end'])).toThrow(/line 2: \/\/#end without \/\/#unroll/);
    expect(() => expand(['//#unroll: x'])).toThrow(/line 1: \/\/#unroll needs loops/);
    expect(() => expand(['//#unroll r <= 2: x'])).toThrow(/line 1: cannot read the loop "r <= 2" \(expected NAME < EXPR\)/);
    expect(() => expand(['//#unroll r < 2', '//#unroll r < 2: x', '//#end'])).toThrow(/line 2: r is already defined here/);
    expect(() => expand(['x'], { 'not a name': 1 })).toThrow(UnrollError);
    expect(() => expand(['x'], { ROWS: 1.5 })).toThrow(/"ROWS" = 1\.5 is not a name with an integer/);
    expect(new UnrollError('x')).toBeInstanceOf(AttentionError);
  });
});
