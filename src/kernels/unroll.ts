/**
 * The one thing in shaders/ that is not plain WGSL: `//#unroll`, which writes a line (or a block
 * of lines) out once per tile position. The matrix-product kernels keep their register tiles in
 * named accumulators (acc0_0, acc0_1, …) and their per-row and per-column offsets in named
 * values, because WGSL cannot size a private array by an override constant and a CPU
 * implementation such as SwiftShader keeps a dynamically indexed private array in memory. The
 * tile sizes are chosen per adapter (src/kernels/tuning.ts), so those lines are generated for
 * each size; everything else in a kernel is the WGSL that runs. shaders/generated/ holds every
 * variant that runs, written out (`npm run shaders`).
 *
 *   //#unroll LOOPS: LINE   LINE once per iteration, indented like the directive
 *   //#unroll LOOPS         the lines up to the matching //#end once per iteration (blocks nest)
 *   //#end
 *
 * LOOPS is `r < EXPR`, or several separated by commas, nested left to right (`r < TILE_ROWS,
 * h < TILE_COLS / 4`: h varies fastest). Inside unrolled lines only, `{EXPR}` is replaced by the
 * value of an integer expression: numbers, the loop variables and the kernel's tile sizes
 * (`TILE_ROWS`, …: the same names are declared as WGSL constants, see src/kernels/shaders.ts)
 * with + − * / (truncating) % and parentheses, e.g. `acc{r}_{h}` or `{4 * p}u`. A `{` followed by
 * a blank or `}` is WGSL's own brace. Lines outside an unroll are copied as they are.
 */
import { AttentionError } from '../core/errors';
import type { LineOrigin } from '../gpu/pipeline';

/** A kernel's shader that cannot be expanded; the message starts with `file line N:`. */
export class UnrollError extends AttentionError {
  override name = 'UnrollError';
}

/** One WGSL file of a kernel, by its path under shaders/. */
export interface WgslFile {
  file: string;
  text: string;
}

/** Plain WGSL and where each of its lines came from (`origins[i]` for line i + 1). */
export interface ExpandedWgsl {
  code: string;
  origins: LineOrigin[];
}

interface Location {
  file: string;
  line: number;
}

function fail(at: Location, message: string): never {
  throw new UnrollError(
    `${at.file} line ${at.line}: ${message}. Fix that line of shaders/${at.file} (src/kernels/unroll.ts describes //#unroll).`,
  );
}

const DIRECTIVE = /^(\s*)\/\/#([A-Za-z]*)\s*(.*)$/;
const NAME = /^[A-Za-z_]\w*$/;

type Node =
  | { kind: 'text'; at: Location; text: string }
  | { kind: 'unroll'; at: Location; indent: string; loops: string; line: string | null; body: Node[] };

/** The lines of `file` as a tree: text lines and //#unroll blocks. */
function parse({ file, text }: WgslFile): Node[] {
  const root: Node[] = [];
  const open: Array<Node & { kind: 'unroll' }> = [];
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start another.
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const at = { file, line: index + 1 };
    const into = open.at(-1)?.body ?? root;
    const directive = DIRECTIVE.exec(line);
    if (!directive) {
      into.push({ kind: 'text', at, text: line });
      return;
    }
    const [, indent, name, rest] = directive;
    if (name === 'end') {
      if (!open.pop()) fail(at, '//#end without //#unroll');
      return;
    }
    if (name !== 'unroll') fail(at, `unknown directive //#${name} (only //#unroll and //#end exist)`);
    const colon = rest.indexOf(':');
    const loops = (colon < 0 ? rest : rest.slice(0, colon)).trim();
    if (loops === '') fail(at, '//#unroll needs loops, e.g. //#unroll r < TILE_ROWS');
    const node: Node & { kind: 'unroll' } = { kind: 'unroll', at, indent, loops, line: colon < 0 ? null : rest.slice(colon + 1).trimStart(), body: [] };
    into.push(node);
    if (node.line === null) open.push(node);
  });
  const unclosed = open.at(-1);
  if (unclosed) fail(unclosed.at, '//#unroll is never closed by //#end');
  return root;
}

const TOKEN = /\s*(\d+|[A-Za-z_]\w*|[-+*/%()])/y;

/** The integer value of `text`, names looked up in `values`. */
function evaluate(text: string, values: ReadonlyMap<string, number>, at: Location): number {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (!/^\s*$/.test(text.slice(TOKEN.lastIndex))) {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) fail(at, `cannot read "${text.slice(start).trim()}" in the expression "${text}"`);
    tokens.push(match[1]);
  }
  let position = 0;
  const primary = (): number => {
    const token = tokens[position++];
    if (token === undefined) fail(at, `the expression "${text}" ends early`);
    if (token === '(') {
      const value = sum();
      if (tokens[position++] !== ')') fail(at, `missing ) in "${text}"`);
      return value;
    }
    if (token === '-') return -primary();
    if (/^\d+$/.test(token)) return Number(token);
    const value = NAME.test(token) ? values.get(token) : undefined;
    if (value === undefined) fail(at, `unknown name ${token} in "${text}" (known: ${[...values.keys()].join(', ') || 'none'})`);
    return value;
  };
  const product = (): number => {
    let value = primary();
    while (tokens[position] === '*' || tokens[position] === '/' || tokens[position] === '%') {
      const operator = tokens[position++];
      const right = primary();
      if (operator !== '*' && right === 0) fail(at, `division by zero in "${text}"`);
      value = operator === '*' ? value * right : operator === '/' ? Math.trunc(value / right) : value % right;
    }
    return value;
  };
  const sum = (): number => {
    let value = product();
    while (tokens[position] === '+' || tokens[position] === '-') {
      const operator = tokens[position++];
      value = operator === '+' ? value + product() : value - product();
    }
    return value;
  };
  const value = sum();
  if (position < tokens.length) fail(at, `unexpected "${tokens[position]}" in "${text}"`);
  return value;
}

/** `text` with every `{EXPR}` replaced by its value; text after `//` (a comment) is left alone. */
function fill(text: string, values: ReadonlyMap<string, number>, at: Location): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith('//', i)) return out + text.slice(i);
    if (text[i] !== '{' || i + 1 >= text.length || /[\s}]/.test(text[i + 1])) {
      out += text[i];
      continue;
    }
    const close = text.indexOf('}', i);
    if (close < 0) fail(at, `unclosed placeholder "${text.slice(i)}"`);
    out += String(evaluate(text.slice(i + 1, close), values, at));
    i = close;
  }
  return out;
}

/** Call `visit` once per iteration of `loops` with the loop variables set (innermost fastest). */
function iterate(loops: string, values: ReadonlyMap<string, number>, at: Location, visit: (inner: Map<string, number>, note: string) => void): void {
  const ranges = loops.split(',').map((part) => {
    const loop = /^\s*([A-Za-z_]\w*)\s*<(?!=)\s*(.+?)\s*$/.exec(part);
    if (!loop) fail(at, `cannot read the loop "${part.trim()}" (expected NAME < EXPR)`);
    return { name: loop[1], end: loop[2] };
  });
  const nest = (level: number, outer: Map<string, number>, notes: string[]): void => {
    if (level === ranges.length) {
      visit(outer, notes.join(', '));
      return;
    }
    const { name, end } = ranges[level];
    if (outer.has(name)) fail(at, `${name} is already defined here`);
    const count = evaluate(end, outer, at);
    for (let value = 0; value < count; value++) {
      nest(level + 1, new Map(outer).set(name, value), [...notes, `${name} = ${value}`]);
    }
  };
  nest(0, new Map(values), []);
}

function expandNodes(nodes: readonly Node[], values: ReadonlyMap<string, number>, notes: readonly string[], out: ExpandedWgsl, lines: string[]): void {
  const emit = (text: string, at: Location, extra: readonly string[]) => {
    lines.push(text);
    out.origins.push(extra.length > 0 ? { file: at.file, line: at.line, note: `unrolled: ${extra.join('; ')}` } : { file: at.file, line: at.line });
  };
  for (const node of nodes) {
    if (node.kind === 'text') {
      emit(notes.length > 0 ? fill(node.text, values, node.at) : node.text, node.at, notes);
      continue;
    }
    iterate(node.loops, values, node.at, (inner, note) => {
      if (node.line !== null) emit(node.indent + fill(node.line, inner, node.at), node.at, [note, ...notes]);
      else expandNodes(node.body, inner, [note, ...notes], out, lines);
    });
  }
}

/**
 * The files of one kernel, one after another, with every //#unroll written out for the tile
 * sizes `sizes` (e.g. `{ TILE_ROWS: 8, TILE_COLS: 8 }`).
 */
export function expandWgsl(files: readonly WgslFile[], sizes: Readonly<Record<string, number>> = {}): ExpandedWgsl {
  const values = new Map<string, number>();
  for (const [name, value] of Object.entries(sizes)) {
    if (!NAME.test(name) || !Number.isInteger(value)) fail({ file: '(tile sizes)', line: 0 }, `"${name}" = ${value} is not a name with an integer`);
    values.set(name, value);
  }
  const out: ExpandedWgsl = { code: '', origins: [] };
  const lines: string[] = [];
  for (const file of files) expandNodes(parse(file), values, [], out, lines);
  out.code = lines.join('\n');
  return out;
}
