// The WGSL template expander (src/kernels/templates.ts) on small hand-written templates: the
// expected lines are written out in full, as are the origins.
import { describe, expect, it } from 'vitest';
import { TemplateError, expandTemplate, type TemplateOptions } from '../../src/kernels/templates';

/** Expand `main.wgsl` given as lines, with other files and variables. */
function expand(lines: string[], options: Partial<TemplateOptions> = {}) {
  return expandTemplate('main.wgsl', { ...options, files: { 'main.wgsl': lines.join('\n'), ...options.files } });
}

const codeOf = (lines: string[], options: Partial<TemplateOptions> = {}) => expand(lines, options).code.split('\n');

describe('placeholders', () => {
  it('fill numbers, integer expressions and text variables; WGSL braces and comments are left alone', () => {
    const code = codeOf(
      [
        'fn f() {',
        '  let x = {ROWS}u * {ROWS * COLS / 4}u + {(COLS - 1) % 3}u; // {not a placeholder}',
        '  { let y = {load}; }',
        '}',
      ],
      { vars: { ROWS: 8, COLS: 16, load: 'a[{ROWS - 1}]' } },
    );
    expect(code).toEqual(['fn f() {', '  let x = 8u * 32u + 0u; // {not a placeholder}', '  { let y = a[7]; }', '}']);
  });

  it('list with {each …}, joined by commas', () => {
    expect(codeOf(['f({each r < 2, h < 2: acc{r}_{h}});', 'g({each c in 4..7: v{c}});'])).toEqual([
      'f(acc0_0, acc0_1, acc1_0, acc1_1);',
      'g(v4, v5, v6);',
    ]);
  });

  it('refuse an unknown name, naming it with its file and line', () => {
    expect(() => expand(['ok', '  let x = {ROWZ};'], { vars: { ROWS: 4 } })).toThrow(/^main\.wgsl line 2: unknown placeholder \{ROWZ\}$/);
    expect(() => expand(['let x = {ROWS + COLZ};'], { vars: { ROWS: 4 } })).toThrow(/main\.wgsl line 1: unknown name COLZ in "ROWS \+ COLZ"/);
    expect(() => expand(['//#each r < 2: x{r} = {q};'])).toThrow(/main\.wgsl line 1: unknown placeholder \{q\}/);
    expect(() => expand(['x = {1 +};'])).toThrow(/line 1: the expression "1 \+" ends early/);
    expect(() => expand(['x = {2 $ 3};'])).toThrow(/line 1: cannot read "\$ 3"/);
    expect(() => expand(['x = {4 / 0};'])).toThrow(/division by zero/);
    expect(() => expand(['x = {a;'])).toThrow(/line 1: unclosed placeholder "\{a;"/);
    expect(() => expand(['x = {a};'], { vars: { a: '{a}' } })).toThrow(/expands into itself/);
  });
});

describe('directives', () => {
  it('//#each repeats one line (indented like the directive) or a block, loops nested left to right', () => {
    const code = codeOf([
      'fn f() {',
      '  //#each r < ROWS: var q{r} = {r}u * WG_Y;',
      '  //#each r < 2',
      '  let a{r} = x[{r}];',
      '  //#each h < COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});',
      '  //#end',
      '}',
    ], { vars: { ROWS: 3, COLS: 8 } });
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

  it('//#each over tuples, with placeholders in the tuples filled first', () => {
    const code = codeOf([
      '//#each (entry, ROWS) in (main, {TILE}), (narrow, 2 * {TILE})',
      'fn {entry}() { let n = {ROWS * 2}u; }',
      '//#end',
    ], { vars: { TILE: 8 } });
    expect(code).toEqual(['fn main() { let n = 16u; }', 'fn narrow() { let n = 32u; }']);
  });

  it('//#let defines text filled where it is used; //#if and //#else pick lines', () => {
    const code = codeOf([
      '//#let load = x[{r} + d]',
      '//#each r < 2: let a{r} = {load};',
      '//#if SUBGROUPS',
      'enable subgroups;',
      '//#else',
      'const TREE = 1;',
      '//#end',
      '//#if !SUBGROUPS',
      'never',
      '//#end',
      '//#if (SUBGROUPS + 1) * 2 == 4',
      'always',
      '//#end',
    ], { vars: { SUBGROUPS: 1 } });
    expect(code).toEqual(['let a0 = x[0 + d];', 'let a1 = x[1 + d];', 'enable subgroups;', 'always']);
  });

  it('//#include expands a file in place, indented like the directive, seeing the includer’s variables', () => {
    const files = { 'parts/step.wgsl': '// a part\nlet b = {load};\n//#each i < N: c{i}();' };
    const code = codeOf(['fn f() {', '  //#let load = y[{N}]', '  //#include parts/step.wgsl', '}'], { files, vars: { N: 2 } });
    expect(code).toEqual(['fn f() {', '  // a part', '  let b = y[2];', '  c0();', '  c1();', '}']);
  });

  it('refuse unknown directives and malformed blocks, naming the file and line', () => {
    expect(() => expand(['fn f() {', '  //#step 1', '}'])).toThrow(/^main\.wgsl line 2: unknown directive \/\/#step$/);
    expect(() => expand(['//#each r < 2', 'x'])).toThrow(/main\.wgsl line 1: \/\/#each is never closed by \/\/#end/);
    expect(() => expand(['//#if 1', '//#else', '//#else', '//#end'])).toThrow(/line 3: \/\/#else without \/\/#if/);
    expect(() => expand(['x', '//#end'])).toThrow(/line 2: \/\/#end without \/\/#each or \/\/#if/);
    expect(() => expand(['//#each r <= 2: x'])).toThrow(/line 1: cannot read the loop "r <= 2"/);
    expect(() => expand(['//#each (a, b) in (1, 2), (3): x'])).toThrow(/line 1: .*\(3\) has 1 values for 2 names/);
    expect(() => expand(['//#let 2x = y'])).toThrow(/line 1: \/\/#let needs NAME = TEXT/);
    expect(() => expand(['//#let a = 1', '//#let a = 2'])).toThrow(/line 2: a is already defined here/);
    expect(() => expand(['//#include nowhere.wgsl'])).toThrow(/main\.wgsl line 1: no template file nowhere\.wgsl/);
    expect(() => expand(['//#include main.wgsl'])).toThrow(/main\.wgsl includes itself/);
    expect(() => expand(['x'], { vars: { 'not a name': 1 } })).toThrow(TemplateError);
  });

  it('name the included file’s line, and where it was included from', () => {
    const files = { 'part.wgsl': 'ok\n{oops}' };
    expect(() => expand(['a', '//#include part.wgsl'], { files })).toThrow(
      /^part\.wgsl line 2: unknown placeholder \{oops\}\n {2}\(included from main\.wgsl line 2\)$/,
    );
  });
});

describe('origins', () => {
  it('give the template line of every output line, with how it was made', () => {
    const files = { 'part.wgsl': 'p{i};' };
    const { code, origins } = expand(
      ['head', '//#each i < 2: x{i};', '//#each i < 2', '  //#include part.wgsl', '//#end', 'tail'],
      { files },
    );
    expect(code.split('\n')).toEqual(['head', 'x0;', 'x1;', '  p0;', '  p1;', 'tail']);
    expect(origins).toEqual([
      { file: 'main.wgsl', line: 1 },
      { file: 'main.wgsl', line: 2, note: '//#each: i = 0' },
      { file: 'main.wgsl', line: 2, note: '//#each: i = 1' },
      { file: 'part.wgsl', line: 1, note: 'included from main.wgsl line 4; i = 0' },
      { file: 'part.wgsl', line: 1, note: 'included from main.wgsl line 4; i = 1' },
      { file: 'main.wgsl', line: 6 },
    ]);
  });
});
