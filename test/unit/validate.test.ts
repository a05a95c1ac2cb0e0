import { describe, expect, it } from 'vitest';
import { AttentionInputError, attentionCpu, makeRandomInputs, validateShape, type AttentionShape } from '../../src/index';
import { thrown } from './expect-thrown';

const good: AttentionShape = { seqLen: 3, dModel: 4, heads: 2, dHead: 2 };

const inputError = (fn: () => unknown): AttentionInputError => thrown(AttentionInputError, fn);

describe('shape validation', () => {
  const badValues: Array<[string, unknown, string]> = [
    ['zero', 0, '0'],
    ['negative', -5, '-5'],
    ['fractional', 2.5, '2.5'],
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['a string', '8', '"8"'],
  ];
  for (const field of ['seqLen', 'kvLen', 'dModel', 'heads', 'dHead'] as const) {
    for (const [what, value, given] of badValues) {
      it(`refuses ${what} ${field} naming the field, the value and the rule`, () => {
        const shape = { ...good, [field]: value } as AttentionShape;
        const error = inputError(() => validateShape(shape));
        expect(error.field).toBe(field);
        expect(error.given).toBe(given);
        expect(error.message).toContain(field);
        expect(error.message).toContain(given);
        expect(error.message).toContain('integer ≥ 1');
      });
    }
  }

  it('refuses a non-boolean causal', () => {
    const error = inputError(() => validateShape({ ...good, causal: 1 as unknown as boolean }));
    expect(error.field).toBe('causal');
  });

  it('refuses a map that does not fit in 2³¹ − 1 elements', () => {
    const error = inputError(() => validateShape({ seqLen: 65536, dModel: 1, heads: 1, dHead: 1 }));
    expect(error.field).toBe('heads·seqLen·kvLen');
    expect(error.kind).toBe('too-large');
    expect(error.message).toContain('4294967296');
  });

  it('a path that never stores the map (fused, sampled rows) takes 65536 tokens but still bounds what it holds', () => {
    const long = { seqLen: 65536, dModel: 64, heads: 1, dHead: 64 };
    expect(validateShape(long, { storesMap: false }).seqLen).toBe(65536);
    expect(inputError(() => validateShape(long)).field).toBe('heads·seqLen·kvLen');
    // Q alone: seqLen · heads · dHead = 65536 · 64 · 512 > 2³¹ − 1.
    const error = inputError(() => validateShape({ seqLen: 65536, dModel: 1, heads: 64, dHead: 512 }, { storesMap: false }));
    expect(error.field).toBe('seqLen·heads·dHead');
    expect(error.message).toContain(String(65536 * 64 * 512));
  });

  it('fills the defaults', () => {
    expect(validateShape(good)).toEqual({ seqLen: 3, kvLen: 3, dModel: 4, heads: 2, dHead: 2, causal: false, width: 4 });
  });
});

describe('input validation (attentionCpu refuses what the GPU path refuses)', () => {
  const inputs = makeRandomInputs(good, 1);

  it('refuses a wrong length, saying the length expected and why', () => {
    const error = inputError(() => attentionCpu(good, { ...inputs, wq: new Float32Array(7) }));
    expect(error.field).toBe('wq');
    expect(error.given).toBe('length 7');
    expect(error.allowed).toContain('length 16');
    expect(error.allowed).toContain('dModel·heads·dHead');
  });

  it('refuses x of the wrong length', () => {
    const error = inputError(() => attentionCpu(good, { ...inputs, x: new Float32Array(11) }));
    expect(error.field).toBe('x');
    expect(error.allowed).toContain('12');
  });

  it('refuses NaN and ±Infinity, naming the element, its row and column', () => {
    const x = inputs.x.slice();
    x[5] = Number.NaN;
    let error = inputError(() => attentionCpu(good, { ...inputs, x }));
    expect(error.field).toBe('x[5] (row 1, column 1)');
    expect(error.given).toBe('NaN');
    expect(error.kind).toBe('non-finite');
    const wv = inputs.wv.slice();
    wv[15] = Number.NEGATIVE_INFINITY;
    error = inputError(() => attentionCpu(good, { ...inputs, wv }));
    expect(error.field).toBe('wv[15] (row 3, column 3)');
    expect(error.given).toBe('-Infinity');
  });

  it('refuses a plain array instead of a Float32Array', () => {
    const error = inputError(() => attentionCpu(good, { ...inputs, wk: Array.from(inputs.wk) as unknown as Float32Array }));
    expect(error.field).toBe('wk');
    expect(error.given).toBe('Array');
    expect(error.kind).toBe('type');
  });

  it('requires xKV when kvLen differs from seqLen, and checks its length', () => {
    const cross = { ...good, kvLen: 5 };
    let error = inputError(() => attentionCpu(cross, inputs));
    expect(error.field).toBe('xKV');
    expect(error.allowed).toContain('kvLen (5) ≠ seqLen (3)');
    error = inputError(() => attentionCpu(cross, { ...inputs, xKV: new Float32Array(12) }));
    expect(error.field).toBe('xKV');
    expect(error.given).toBe('length 12');
    expect(error.allowed).toContain('length 20');
  });
});
