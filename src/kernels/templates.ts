/**
 * The WGSL template expander: every kernel in shaders/ is a template, expanded here into plain
 * WGSL plus the origin of every line (file, line, and how the line was made), so that a compile
 * error names the template line it came from.
 *
 * Why templates: the matrix-product kernels keep their tiles in named accumulators and write
 * their per-row and per-column offsets out as straight-line code (WGSL cannot size private
 * arrays by override constants, and a CPU implementation such as SwiftShader keeps dynamically
 * indexed arrays in memory). That repetition is generated from one template line instead of
 * being written out, and what several kernels share is written once, in shaders/common.wgsl and
 * shaders/parts/, and included.
 *
 * A line whose first non-blank characters are `//#` is a directive:
 *
 *   //#include PATH        the file PATH (relative to shaders/), expanded in place and indented
 *                          like the directive; it sees the variables defined where it is included
 *   //#let NAME = TEXT     a text variable; the placeholders in TEXT are filled where it is used
 *   //#each LOOPS: LINE    LINE once per iteration, indented like the directive
 *   //#each LOOPS          the lines up to the matching //#end once per iteration
 *   //#if EXPR             the lines up to //#else or //#end if EXPR is not 0; //#else: otherwise
 *   //#end                 closes //#each or //#if
 *
 * LOOPS is `r < EXPR` (r = 0 … EXPR − 1) or `c in EXPR..EXPR` (end excluded), several separated
 * by commas and nested left to right (`r < ROWS, h < COLS / 4`), or a list of tuples, whose
 * placeholders are filled first: `(entry, ROWS) in (main, {MAP_TILE}), (narrow, 16)`. A variable
 * defined by //#let or a loop lives until the end of its block (an iteration, an //#if branch, an
 * included file, the template); defining a name twice in one block is an error.
 *
 * In WGSL code (not in `//` comments), `{` directly followed by a character other than a blank or
 * `}` opens a placeholder, closed by its matching `}`:
 *
 *   {NAME}                 a variable: a number, or a text variable's text, filled in turn
 *   {EXPR}                 an integer expression: + − * / (truncating) % ( ) == != < > <= >= !
 *                          over numbers and variables (a text variable counts as the expression
 *                          its text is), e.g. {4 * m} or {ROWS * COLS / 4}
 *   {each LOOPS: TEXT}     TEXT once per iteration, joined by ", " (argument lists)
 *
 * The kernels' own braces are followed by a blank or end their line (`{ let …`, `if (…) {`), so
 * the two do not meet. Nothing is left to chance: an unknown name, a malformed expression, an
 * unknown directive, an unclosed block or a missing include throws a {@link TemplateError} that
 * starts with the file and line (and says where an included file was included from).
 */
import type { LineOrigin } from '../gpu/pipeline';

/** A template variable: a number (tile sizes, switches) or text (a load expression, a name). */
export type TemplateValue = number | string;

export interface TemplateOptions {
  /** The files the expansion may read, by path relative to shaders/ (the entry file included). */
  files: Readonly<Record<string, string>>;
  /** Variables every line sees. */
  vars?: Readonly<Record<string, TemplateValue>>;
}

export interface ExpandedTemplate {
  code: string;
  /** `origins[i]`: where line i + 1 of `code` came from. */
  origins: LineOrigin[];
}

/** A template that cannot be expanded; the message starts with `file line N:`. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

interface Location {
  file: string;
  line: number;
}

type TemplateNode =
  | { kind: 'text'; at: Location; text: string }
  | { kind: 'let'; at: Location; name: string; text: string }
  | { kind: 'include'; at: Location; indent: string; path: string }
  | { kind: 'each'; at: Location; indent: string; loops: string; line: string | null; body: TemplateNode[] }
  | { kind: 'if'; at: Location; condition: string; then: TemplateNode[]; otherwise: TemplateNode[] };

type Binding = { kind: 'number'; value: number } | { kind: 'text'; text: string };

/** Variables in nested scopes: an iteration or an include sees its parents' variables. */
class Scope {
  private readonly own = new Map<string, Binding>();
  constructor(private readonly parent: Scope | null) {}

  lookup(name: string): Binding | undefined {
    return this.own.get(name) ?? this.parent?.lookup(name);
  }

  define(name: string, binding: Binding, at: Location): void {
    if (this.own.has(name)) fail(at, `${name} is already defined here`);
    this.own.set(name, binding);
  }
}

function fail(at: Location, message: string): never {
  throw new TemplateError(`${at.file} line ${at.line}: ${message}`);
}

const NAME = /^[A-Za-z_]\w*$/;

function bindingOf(value: TemplateValue): Binding {
  return typeof value === 'number' ? { kind: 'number', value } : { kind: 'text', text: value };
}

// ---------------------------------------------------------------------------------------------
// Parsing: a file into a tree of text lines and directives (blocks matched up front).

const DIRECTIVE = /^(\s*)\/\/#(\S*)\s*(.*)$/;

function parseTemplate(file: string, source: string): TemplateNode[] {
  const root: TemplateNode[] = [];
  // Open blocks: where their lines go, and the node (to report an unclosed one).
  const stack: Array<{ node: TemplateNode & { kind: 'each' | 'if' }; into: TemplateNode[] }> = [];
  const target = () => stack.at(-1)?.into ?? root;
  // A final newline ends the last line; it does not start another.
  const lines = source.split('\n');
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  lines.forEach((text, index) => {
    const at = { file, line: index + 1 };
    const directive = DIRECTIVE.exec(text);
    if (!directive) {
      target().push({ kind: 'text', at, text });
      return;
    }
    const [, indent, name, rest] = directive;
    switch (name) {
      case 'include':
        if (rest === '') fail(at, '//#include needs a file');
        target().push({ kind: 'include', at, indent, path: rest.trim() });
        return;
      case 'let': {
        const parsed = /^([A-Za-z_]\w*)\s*=\s?(.*)$/.exec(rest);
        if (!parsed) fail(at, `//#let needs NAME = TEXT; got "${rest}"`);
        target().push({ kind: 'let', at, name: parsed[1], text: parsed[2] });
        return;
      }
      case 'each': {
        const colon = rest.indexOf(':');
        const loops = (colon < 0 ? rest : rest.slice(0, colon)).trim();
        if (loops === '') fail(at, '//#each needs loops, e.g. //#each r < 8');
        const node: TemplateNode = { kind: 'each', at, indent, loops, line: colon < 0 ? null : rest.slice(colon + 1).trimStart(), body: [] };
        target().push(node);
        if (node.line === null) stack.push({ node, into: node.body });
        return;
      }
      case 'if': {
        if (rest === '') fail(at, '//#if needs a condition');
        const node: TemplateNode = { kind: 'if', at, condition: rest, then: [], otherwise: [] };
        target().push(node);
        stack.push({ node, into: node.then });
        return;
      }
      case 'else': {
        const open = stack.at(-1);
        if (!open || open.node.kind !== 'if' || open.into !== open.node.then) fail(at, '//#else without //#if');
        open.into = open.node.otherwise;
        return;
      }
      case 'end':
        if (!stack.pop()) fail(at, '//#end without //#each or //#if');
        return;
      default:
        fail(at, `unknown directive //#${name}`);
    }
  });
  const open = stack.at(-1);
  if (open) fail(open.node.at, `//#${open.node.kind} is never closed by //#end`);
  return root;
}

// ---------------------------------------------------------------------------------------------
// Expressions: integers and variables with + − * / % ( ), comparisons and !.

const TOKEN = /\s*(\d+|[A-Za-z_]\w*|==|!=|<=|>=|[-+*/%()<>!])/y;

function tokenize(text: string, at: Location): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) fail(at, `cannot read "${text.slice(start).trim()}" in the expression "${text}"`);
    tokens.push(match[1]);
  }
  return tokens;
}

/** The integer value of `text`; names resolve in `scope` (a text variable as an expression). */
function evaluate(text: string, scope: Scope, at: Location, depth = 0): number {
  if (depth > 16) fail(at, `the expression "${text}" refers to itself`);
  const tokens = tokenize(text, at);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => tokens[position++];
  const binary = (operand: () => number, operators: Record<string, (a: number, b: number) => number>) => (): number => {
    let value = operand();
    while (peek() !== undefined && Object.hasOwn(operators, peek())) {
      const operator = next();
      value = operators[operator](value, operand());
    }
    return value;
  };
  const primary = (): number => {
    const token = next();
    if (token === undefined) fail(at, `the expression "${text}" ends early`);
    if (token === '(') {
      const value = comparison();
      if (next() !== ')') fail(at, `missing ) in "${text}"`);
      return value;
    }
    if (token === '-') return -primary();
    if (token === '!') return primary() === 0 ? 1 : 0;
    if (/^\d+$/.test(token)) return Number(token);
    if (!NAME.test(token)) fail(at, `unexpected "${token}" in "${text}"`);
    const binding = scope.lookup(token);
    if (!binding) fail(at, `unknown name ${token} in "${text}"`);
    return binding.kind === 'number' ? binding.value : evaluate(fill(binding.text, scope, at, depth + 1), scope, at, depth + 1);
  };
  const divide = (a: number, b: number) => {
    if (b === 0) fail(at, `division by zero in "${text}"`);
    return Math.trunc(a / b);
  };
  const product = binary(primary, { '*': (a, b) => a * b, '/': divide, '%': (a, b) => (b === 0 ? divide(a, b) : a % b) });
  const sum = binary(product, { '+': (a, b) => a + b, '-': (a, b) => a - b });
  const test = (holds: boolean) => (holds ? 1 : 0);
  const comparison = binary(sum, {
    '==': (a, b) => test(a === b),
    '!=': (a, b) => test(a !== b),
    '<': (a, b) => test(a < b),
    '>': (a, b) => test(a > b),
    '<=': (a, b) => test(a <= b),
    '>=': (a, b) => test(a >= b),
  });
  const value = comparison();
  if (position < tokens.length) fail(at, `unexpected "${peek()}" in "${text}"`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Loops: `r < N`, `c in A..B`, comma-separated and nested, or `(a, b) in (x, y), (z, w)`.

/** Call `visit` with a scope per iteration of `loops` (innermost loop varying fastest). */
function iterate(loops: string, scope: Scope, at: Location, visit: (inner: Scope, note: string) => void): void {
  const tuple = /^\(([^)]*)\)\s+in\s+(.+)$/.exec(loops);
  if (tuple) {
    const names = tuple[1].split(',').map((name) => name.trim());
    for (const name of names) if (!NAME.test(name)) fail(at, `"${name}" is not a name in //#each ${loops}`);
    const values = [...tuple[2].matchAll(/\(([^)]*)\)/g)].map((group) => group[1].split(',').map((value) => value.trim()));
    if (values.length === 0 || tuple[2].replace(/\([^)]*\)/g, '').replace(/[\s,]/g, '') !== '') {
      fail(at, `//#each ${loops}: the values must be tuples, e.g. (main, 8), (narrow, 16)`);
    }
    for (const row of values) {
      if (row.length !== names.length) fail(at, `//#each ${loops}: (${row.join(', ')}) has ${row.length} values for ${names.length} names`);
      const inner = new Scope(scope);
      names.forEach((name, index) => inner.define(name, bindingOf(/^-?\d+$/.test(row[index]) ? Number(row[index]) : row[index]), at));
      visit(inner, names.map((name, index) => `${name} = ${row[index]}`).join(', '));
    }
    return;
  }
  const ranges = loops.split(',').map((part) => {
    const below = /^\s*([A-Za-z_]\w*)\s*<(?!=)\s*(.+?)\s*$/.exec(part);
    if (below) return { name: below[1], from: '0', to: below[2] };
    const span = /^\s*([A-Za-z_]\w*)\s+in\s+(.+?)\.\.(.+?)\s*$/.exec(part);
    if (span) return { name: span[1], from: span[2], to: span[3] };
    return fail(at, `cannot read the loop "${part.trim()}" (expected NAME < EXPR or NAME in EXPR..EXPR)`);
  });
  const nest = (level: number, outer: Scope, notes: string[]): void => {
    if (level === ranges.length) {
      visit(outer, notes.join(', '));
      return;
    }
    const { name, from, to } = ranges[level];
    const end = evaluate(to, outer, at);
    for (let value = evaluate(from, outer, at); value < end; value++) {
      const inner = new Scope(outer);
      inner.define(name, { kind: 'number', value }, at);
      nest(level + 1, inner, [...notes, `${name} = ${value}`]);
    }
  };
  nest(0, scope, []);
}

// ---------------------------------------------------------------------------------------------
// Placeholders.

/** `text` with every placeholder filled; text after `//` (a WGSL comment) is left as it is. */
function fill(text: string, scope: Scope, at: Location, depth = 0): string {
  if (depth > 16) fail(at, 'a text variable expands into itself');
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '/' && text[i + 1] === '/') return out + text.slice(i);
    const opens = char === '{' && i + 1 < text.length && !/[\s}]/.test(text[i + 1]);
    if (!opens) {
      out += char;
      continue;
    }
    let level = 1;
    let close = i + 1;
    for (; close < text.length && level > 0; close++) {
      if (text[close] === '{') level++;
      else if (text[close] === '}') level--;
    }
    if (level > 0) fail(at, `unclosed placeholder "${text.slice(i)}"`);
    out += resolve(text.slice(i + 1, close - 1), scope, at, depth);
    i = close - 1;
  }
  return out;
}

function resolve(content: string, scope: Scope, at: Location, depth: number): string {
  const list = /^each\s+([^:]+):\s?(.*)$/s.exec(content);
  if (list) {
    const items: string[] = [];
    iterate(list[1].trim(), scope, at, (inner) => items.push(fill(list[2], inner, at, depth + 1)));
    return items.join(', ');
  }
  if (NAME.test(content)) {
    const binding = scope.lookup(content);
    if (!binding) fail(at, `unknown placeholder {${content}}`);
    return binding.kind === 'number' ? String(binding.value) : fill(binding.text, scope, at, depth + 1);
  }
  return String(evaluate(content, scope, at));
}

// ---------------------------------------------------------------------------------------------
// Expansion.

interface Output {
  lines: string[];
  origins: LineOrigin[];
}

interface Context {
  options: TemplateOptions;
  parsed: Map<string, TemplateNode[]>;
  /** Files being included, outermost first (to refuse a cycle). */
  including: string[];
  /** How the current lines are made, innermost first: iterations and includes. */
  notes: string[];
  /** Prefixed to every non-blank line (the indentation of the enclosing includes). */
  indent: string;
}

function emit(out: Output, context: Context, text: string, at: Location, note?: string): void {
  out.lines.push(text.trim() === '' ? text : context.indent + text);
  const notes = note ? [note, ...context.notes] : context.notes;
  out.origins.push(notes.length > 0 ? { file: at.file, line: at.line, note: notes.join('; ') } : { file: at.file, line: at.line });
}

function parsedFile(context: Context, path: string, at: Location | null): TemplateNode[] {
  let nodes = context.parsed.get(path);
  if (!nodes) {
    const source = context.options.files[path];
    if (source === undefined) {
      throw new TemplateError(at ? `${at.file} line ${at.line}: no template file ${path}` : `no template file ${path}`);
    }
    nodes = parseTemplate(path, source);
    context.parsed.set(path, nodes);
  }
  return nodes;
}

function expandNodes(nodes: readonly TemplateNode[], scope: Scope, context: Context, out: Output): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        emit(out, context, fill(node.text, scope, node.at), node.at);
        break;
      case 'let':
        scope.define(node.name, { kind: 'text', text: node.text }, node.at);
        break;
      case 'if':
        expandNodes(evaluate(node.condition, scope, node.at) !== 0 ? node.then : node.otherwise, new Scope(scope), context, out);
        break;
      case 'each':
        iterate(fill(node.loops, scope, node.at), scope, node.at, (inner, note) => {
          if (node.line !== null) {
            emit(out, context, node.indent + fill(node.line, inner, node.at), node.at, `//#each: ${note}`);
          } else {
            expandNodes(node.body, inner, { ...context, notes: [note, ...context.notes] }, out);
          }
        });
        break;
      case 'include': {
        if (context.including.includes(node.path)) fail(node.at, `${node.path} includes itself (${[...context.including, node.path].join(' → ')})`);
        const included = parsedFile(context, node.path, node.at);
        try {
          expandNodes(included, new Scope(scope), {
            ...context,
            including: [...context.including, node.path],
            notes: [`included from ${node.at.file} line ${node.at.line}`, ...context.notes],
            indent: context.indent + node.indent,
          }, out);
        } catch (error) {
          // Say where the failing part was included from (each enclosing include adds a line).
          if (error instanceof TemplateError) error.message += `\n  (included from ${node.at.file} line ${node.at.line})`;
          throw error;
        }
        break;
      }
    }
  }
}

/** Expand the template `file` (a key of `options.files`) into WGSL with the origin of every line. */
export function expandTemplate(file: string, options: TemplateOptions): ExpandedTemplate {
  const scope = new Scope(null);
  const global = { file: '(variables)', line: 0 };
  for (const [name, value] of Object.entries(options.vars ?? {})) {
    if (!NAME.test(name)) fail(global, `"${name}" is not a name`);
    scope.define(name, bindingOf(value), global);
  }
  const context: Context = { options, parsed: new Map(), including: [file], notes: [], indent: '' };
  const out: Output = { lines: [], origins: [] };
  expandNodes(parsedFile(context, file, null), scope, context, out);
  return { code: out.lines.join('\n'), origins: out.origins };
}
