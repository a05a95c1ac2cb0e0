/**
 * Every error src/ throws on purpose is an AttentionError (src/core/errors.ts) or a subclass, so
 * the app can show its message as-is and callers can catch the library's errors by one type:
 * no class in src/ extends Error directly, and nothing constructs a bare Error, TypeError or
 * RangeError, outside src/core/errors.ts itself. Comments are skipped (they may name the
 * pattern). The scanner is tested on small fixtures first, so it cannot pass by finding nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';

const PATTERNS: Array<[RegExp, string]> = [
  [/\bextends\s+(Error|TypeError|RangeError)\b/g, 'a class extending a built-in error'],
  [/\bnew\s+(Error|TypeError|RangeError)\s*\(/g, 'a bare built-in error'],
];

/** `source` without its comments (block and line; line offsets kept so line numbers stay right). */
function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .split('\n')
    .map((line) => line.replace(/(^|\s)\/\/.*$/, '$1'))
    .join('\n');
}

/** Each offending line of `source` as `line N: <what>: <code>`. */
function builtInErrors(source: string): string[] {
  const code = stripComments(source);
  const lines = code.split('\n');
  const found: string[] = [];
  lines.forEach((line, index) => {
    for (const [pattern, what] of PATTERNS) {
      if (line.match(pattern)) found.push(`line ${index + 1}: ${what}: ${line.trim()}`);
    }
  });
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('the scanner', () => {
  it('finds classes extending built-in errors and bare built-in errors, not comments or AttentionErrors', () => {
    expect(builtInErrors('export class Oops extends Error {}')).toEqual(['line 1: a class extending a built-in error: export class Oops extends Error {}']);
    expect(builtInErrors("const a = 1;\nif (!a) throw new RangeError('no');")).toHaveLength(1);
    expect(builtInErrors('reject(new Error(`x`));')).toHaveLength(1);
    expect(builtInErrors('throw new TypeError ("x")')).toHaveLength(1);
    expect(builtInErrors('// throw new Error("in a comment")\n/* class A extends Error */\n/**\n * new Error( in JSDoc\n */\nx(); // new Error(')).toEqual([]);
    expect(builtInErrors("throw new AttentionError('fine'); class B extends AttentionInputError {}")).toEqual([]);
    expect(builtInErrors('const e = new MyError(1); const f = newError(2);')).toEqual([]);
  });
});

describe('errors thrown by src/', () => {
  it('are AttentionErrors: no built-in Error, TypeError or RangeError outside src/core/errors.ts', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles('src')) {
      if (file === 'src/core/errors.ts') continue;
      for (const hit of builtInErrors(readFileSync(file, 'utf8'))) offenders.push(`${file} ${hit}`);
    }
    expect(
      offenders,
      `Throw an AttentionError (or a subclass from src/core/errors.ts) whose message names the field, what was given, what is allowed and what to do:\n${offenders.join('\n')}`,
    ).toEqual([]);
  });
});
