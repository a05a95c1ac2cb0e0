/**
 * The runtime half of the layering (README, Architecture; the import half is
 * .dependency-cruiser.cjs, run by `npm run lint:deps`): only src/gpu and src/kernels call
 * WebGPU, only src/ui and src/main.ts touch the DOM, and src/app imports only types from
 * src/scene. Every src/**\/*.ts file is scanned with its comments and string literals blanked
 * out, so a word in a comment, a message or a label does not count; GPUDevice and GPUBuffer
 * passed around as values, and DOM types in annotations (a canvas handed to the scene), are fine.
 * The scanner is itself tested on small fixtures below, so it cannot pass by finding nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';

// ---------------------------------------------------------------------------------------------
// Blanking comments and string literals (a small lexer: TypeScript 7 has no JS parser API)
// ---------------------------------------------------------------------------------------------

/** Words after which a `/` starts a regular expression rather than dividing. */
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await']);

/**
 * `source` with every comment blanked, and every string, template text and regular expression
 * literal blanked too unless `keepStrings` (template `${…}` expressions stay code either way).
 * Blanked characters become spaces and newlines stay, so offsets and line numbers are kept.
 */
export function blankNonCode(source: string, keepStrings = false): string {
  const out = source.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  /** Open `${` of templates we are inside, with the `{` depth of their expression. */
  const templates: number[] = [];
  let i = 0;
  const n = source.length;
  /** Whether a `/` at i would start a regular expression (from the last code token before it). */
  const regexAllowed = (at: number): boolean => {
    let k = at - 1;
    while (k >= 0 && /\s/.test(out[k])) k--;
    if (k < 0) return true;
    const c = out[k];
    if (/[\w$]/.test(c)) {
      let start = k;
      while (start > 0 && /[\w$]/.test(out[start - 1])) start--;
      return REGEX_AFTER_WORD.has(out.slice(start, k + 1).join(''));
    }
    return c !== ')' && c !== ']';
  };
  /** Scan template text from i (just after '`' or after the '}' closing an expression). */
  const templateText = () => {
    const start = i;
    while (i < n) {
      const c = source[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '`') {
        if (!keepStrings) blank(start, i);
        i++;
        return;
      }
      if (c === '$' && source[i + 1] === '{') {
        if (!keepStrings) blank(start, i);
        i += 2;
        templates.push(0);
        return;
      }
      i++;
    }
    if (!keepStrings) blank(start, i);
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      const start = i;
      i++;
      while (i < n && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      i++;
      if (!keepStrings) blank(start + 1, i - 1);
    } else if (c === '`') {
      i++;
      templateText();
    } else if (c === '{' && templates.length > 0) {
      templates[templates.length - 1]++;
      i++;
    } else if (c === '}' && templates.length > 0 && templates[templates.length - 1] === 0) {
      templates.pop();
      i++;
      templateText();
    } else if (c === '}' && templates.length > 0) {
      templates[templates.length - 1]--;
      i++;
    } else if (c === '/' && regexAllowed(i)) {
      const start = i;
      i++;
      let inClass = false;
      while (i < n && source[i] !== '\n') {
        const r = source[i];
        if (r === '\\') {
          i += 2;
          continue;
        }
        if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        i++;
      }
      i++;
      if (!keepStrings) blank(start + 1, i - 1);
    } else {
      i++;
    }
  }
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

interface RuntimeRule {
  name: string;
  /** Files (repository paths) where the API belongs. */
  allowed: RegExp;
  why: string;
  patterns: RegExp[];
}

/** A member access or call on any object: `.name` followed by `follow`. */
const member = (names: string, follow = '') => new RegExp(`\\.\\s*(?:${names})\\b${follow}`, 'g');
/** A free identifier (not a property: not after `.` or another identifier character). */
const free = (names: string, follow = '') => new RegExp(`(?<![\\w$.])(?:${names})(?![\\w$])${follow}`, 'g');

/** Globals of a browser window that workers and Node do not have. */
const DOM_GLOBALS = 'document|window|devicePixelRatio|localStorage|sessionStorage|requestAnimationFrame|cancelAnimationFrame|ResizeObserver|MutationObserver|IntersectionObserver|getComputedStyle|matchMedia|customElements|DOMParser';

export const RUNTIME_RULES: RuntimeRule[] = [
  {
    name: 'webgpu-outside-gpu-kernels',
    allowed: /^src\/(gpu|kernels)\//,
    why: 'WebGPU calls belong in src/gpu (plumbing) and src/kernels (the kernels); elsewhere pass GPUDevice/GPUBuffer along as opaque values or call a function there',
    patterns: [
      free('GPUBufferUsage|GPUMapMode|GPUShaderStage|GPUTextureUsage|GPUColorWrite'),
      /(?<![\w$.])navigator\s*\.\s*gpu\b/g,
      member(
        'createBuffer|createShaderModule|createComputePipeline(?:Async)?|createRenderPipeline(?:Async)?|createBindGroup(?:Layout)?|createPipelineLayout|' +
          'createCommandEncoder|createQuerySet|beginComputePass|dispatchWorkgroups(?:Indirect)?|pushErrorScope|popErrorScope|mapAsync|getMappedRange|' +
          'requestAdapter|requestDevice|onSubmittedWorkDone|copyBufferToBuffer|resolveQuerySet',
        '\\s*\\(',
      ),
      member('queue', '\\s*\\.'),
      member('adapterInfo'),
      // `device.limits.x`, `device.limits[key]`, `{ … } = device.limits`: read limits through src/gpu/limits.ts.
      member('limits'),
    ],
  },
  {
    name: 'dom-outside-ui',
    allowed: /^src\/(ui\/|main\.ts$)/,
    why: 'the DOM belongs in src/ui (and the entry src/main.ts); the scene draws into a canvas handed to it, and workers and Node have no DOM',
    patterns: [
      free(DOM_GLOBALS),
      new RegExp(`\\b(?:globalThis|self)\\s*\\.\\s*(?:${DOM_GLOBALS}|location|history)\\b`, 'g'),
      free('location|history', '\\s*\\.'),
      free('alert|confirm|prompt', '\\s*\\('),
      /\b(?:new|instanceof)\s+(?:HTML\w*Element|SVG\w*Element|Image|Audio|Option|Element|Node|Event|CustomEvent|KeyboardEvent|MouseEvent|PointerEvent)\b/g,
    ],
  },
];

export interface Violation {
  file: string;
  line: number;
  rule: string;
  text: string;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** Imports of `file` whose specifier is a relative path, with what they import and where. */
function relativeImports(file: string, code: string): Array<{ target: string; typeOnly: boolean; index: number; text: string }> {
  const found: Array<{ target: string; typeOnly: boolean; index: number; text: string }> = [];
  const add = (spec: string, typeOnly: boolean, index: number, text: string) => {
    if (spec.startsWith('.')) found.push({ target: posix.join(posix.dirname(file), spec), typeOnly, index, text });
  };
  // import … from '…', export … from '…' (clause may span lines), side-effect imports, import('…').
  for (const m of code.matchAll(/\b(import|export)\s+(type\s+)?([^;'"`]*?)\s*\bfrom\s*(['"])([^'"]+)\4/g)) add(m[5], !!m[2], m.index!, m[0]);
  for (const m of code.matchAll(/\bimport\s*(['"])([^'"]+)\1/g)) add(m[2], false, m.index!, m[0]);
  for (const m of code.matchAll(/\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g)) add(m[2], false, m.index!, m[0]);
  return found;
}

/** Everything wrong with one file (`file` is its repository path, e.g. src/scene/labels.ts). */
export function findViolations(file: string, source: string): Violation[] {
  const code = blankNonCode(source);
  const found: Array<Violation & { index: number }> = [];
  for (const rule of RUNTIME_RULES) {
    if (rule.allowed.test(file)) continue;
    for (const pattern of rule.patterns) {
      for (const m of code.matchAll(pattern)) {
        found.push({ file, line: lineOf(code, m.index!), rule: rule.name, text: m[0].replace(/\s+/g, ' ').trim(), index: m.index! });
      }
    }
  }
  if (file.startsWith('src/app/')) {
    // dependency-cruiser (with swc) cannot tell `import type` apart, so this half of its app rule is here.
    const imports = relativeImports(file, blankNonCode(source, true));
    for (const imp of imports) {
      if (!imp.typeOnly && (imp.target === 'src/scene' || imp.target.startsWith('src/scene/'))) {
        found.push({ file, line: lineOf(source, imp.index), rule: 'app-imports-scene-types-only', text: imp.text.replace(/\s+/g, ' '), index: imp.index });
      }
    }
  }
  // In the order they appear in the file.
  return found.sort((a, b) => a.index - b.index).map(({ index: _index, ...violation }) => violation);
}

/**
 * Known violations, each with why it is tolerated for now. Empty is the goal; an entry that no
 * longer matches anything fails the test, so entries are removed when the code is fixed.
 */
const EXEMPTIONS: Array<{ file: string; rule: string; why: string }> = [];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.isFile() && path.endsWith('.ts') ? [path] : [];
  });
}

const format = (v: Violation) => `${v.file}:${v.line}: ${v.rule}: ${v.text}`;

describe('runtime layering of src/', () => {
  const files = sourceFiles('src').sort();
  const all = files.flatMap((file) => findViolations(file, readFileSync(file, 'utf8')));
  const exempt = (v: Violation) => EXEMPTIONS.some((e) => e.file === v.file && e.rule === v.rule);

  it('scans the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain('src/scene/index.ts');
  });

  for (const rule of [...RUNTIME_RULES.map((r) => r.name), 'app-imports-scene-types-only']) {
    it(`${rule}: no violations`, () => {
      const found = all.filter((v) => v.rule === rule && !exempt(v)).map(format);
      const why = RUNTIME_RULES.find((r) => r.name === rule)?.why ?? 'src/app may only `import type` from src/scene (it runs no three.js code)';
      expect(found, `${rule} (${why}):\n${found.join('\n')}`).toEqual([]);
    });
  }

  it('every exemption still matches a violation', () => {
    const stale = EXEMPTIONS.filter((e) => !all.some((v) => v.file === e.file && v.rule === e.rule));
    expect(stale).toEqual([]);
  });
});

describe('the layering scanner itself', () => {
  const lines = (violations: Violation[]) => violations.map((v) => `${v.line} ${v.rule} ${v.text}`);

  it('blanks comments, strings, template text and regular expressions, keeping lines and template expressions', () => {
    const source = [
      "const a = 'document.x'; // window.y",
      '/* navigator.gpu',
      '   */ const b = `GPUBufferUsage ${document.title} text`;',
      "const r = /['\"/]/g; const c = x / 2 / y;",
    ].join('\n');
    const code = blankNonCode(source);
    expect(code.length).toBe(source.length);
    expect(code.split('\n')).toHaveLength(4);
    expect(code).not.toMatch(/document\.x|window|navigator|GPUBufferUsage|text/);
    expect(code).toContain('${document.title}');
    expect(code).toContain('x / 2 / y');
    expect(blankNonCode(source, true)).toContain("'document.x'");
  });

  it('reports DOM use outside src/ui with file and line', () => {
    const fixture = [
      '/** Labels: document.createElement in a comment does not count. */',
      "const message = 'window.open in a string does not count';",
      'export function label(canvas: HTMLCanvasElement): void {',
      "  const c = document.createElement('canvas');",
      '  requestAnimationFrame(() => canvas.toBlob(() => undefined));',
      '  const el = new Image();',
      '  if (canvas instanceof HTMLCanvasElement) globalThis.window.addEventListener("resize", () => undefined);',
      '  const sizes = { width: canvas.clientWidth, ratio: globalThis.devicePixelRatio };',
      '}',
    ].join('\n');
    expect(lines(findViolations('src/scene/fixture.ts', fixture))).toEqual([
      '4 dom-outside-ui document',
      '5 dom-outside-ui requestAnimationFrame',
      '6 dom-outside-ui new Image',
      '7 dom-outside-ui instanceof HTMLCanvasElement',
      '7 dom-outside-ui globalThis.window',
      '8 dom-outside-ui globalThis.devicePixelRatio',
    ]);
    expect(findViolations('src/ui/fixture.ts', fixture)).toEqual([]);
    expect(findViolations('src/main.ts', fixture)).toEqual([]);
  });

  it('reports WebGPU calls outside src/gpu and src/kernels, not GPU types or opaque values', () => {
    const fixture = [
      'export async function f(device: GPUDevice, buffer: GPUBuffer, usage: GPUBufferUsageFlags): Promise<GPUBuffer> {',
      '  const big = device.limits.maxBufferSize;',
      '  const b = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE });',
      '  device.queue.writeBuffer(b, 0, new Float32Array(1));',
      '  const info = device.adapterInfo;',
      '  await b.mapAsync(GPUMapMode.READ);',
      '  const adapter = await navigator.gpu.requestAdapter();',
      '  keep(buffer, usage, big, info, adapter);',
      '  return buffer;',
      '}',
    ].join('\n');
    const found = lines(findViolations('src/bench/fixture.ts', fixture));
    expect(found).toEqual([
      '2 webgpu-outside-gpu-kernels .limits',
      '3 webgpu-outside-gpu-kernels .createBuffer(',
      '3 webgpu-outside-gpu-kernels GPUBufferUsage',
      '4 webgpu-outside-gpu-kernels .queue.',
      '5 webgpu-outside-gpu-kernels .adapterInfo',
      '6 webgpu-outside-gpu-kernels .mapAsync(',
      '6 webgpu-outside-gpu-kernels GPUMapMode',
      '7 webgpu-outside-gpu-kernels navigator.gpu',
      '7 webgpu-outside-gpu-kernels .requestAdapter(',
    ]);
    expect(findViolations('src/gpu/fixture.ts', fixture)).toEqual([]);
    expect(findViolations('src/kernels/fixture.ts', fixture)).toEqual([]);
    // The UI may touch the DOM, not WebGPU.
    expect(findViolations('src/ui/fixture.ts', fixture).length).toBe(found.length);
  });

  it('lets src/app import only types from src/scene', () => {
    const fixture = [
      "import type { SurfaceSource } from '../scene';",
      "import { createSurfaceView } from '../scene';",
      "import type { StageView } from '../scene/layout';",
      "import {",
      "  type CellInfo,",
      "} from '../scene/index';",
      "export { viridis } from '../scene/colormap';",
      "import { planGrid } from '../reference/reduce';",
      "const later = () => import('../scene');",
    ].join('\n');
    expect(lines(findViolations('src/app/fixture.ts', fixture))).toEqual([
      "2 app-imports-scene-types-only import { createSurfaceView } from '../scene'",
      "4 app-imports-scene-types-only import { type CellInfo, } from '../scene/index'",
      "7 app-imports-scene-types-only export { viridis } from '../scene/colormap'",
      "9 app-imports-scene-types-only import('../scene')",
    ]);
    expect(findViolations('src/ui/fixture.ts', fixture)).toEqual([]);
  });
});
