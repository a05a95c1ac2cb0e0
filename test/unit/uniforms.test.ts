// Uniform blocks laid out from their WGSL declarations (src/gpu/uniforms.ts) and the layouts the
// kernels' hosts use (src/kernels/packing.ts). Offsets are worked out by hand: every scalar is 4
// bytes aligned to 4, in declaration order; sizes round up to 16.
import { describe, expect, it } from 'vitest';
import { packUniform, uniformLayout } from '../../src/gpu/uniforms';
import { CHUNK_LAYOUT, GRID_PARAMS_LAYOUT, PARAMS_LAYOUT, REDUCE_PARAMS_LAYOUT } from '../../src/kernels/packing';

const offsets = (layout: { fields: Readonly<Record<string, { offset: number }>> }) =>
  Object.fromEntries(Object.entries(layout.fields).map(([name, field]) => [name, field.offset]));

describe('uniformLayout', () => {
  it('lays out Params of common.wgsl: twelve 4-byte fields, scale an f32 at 40, 48 bytes', () => {
    expect(PARAMS_LAYOUT.size).toBe(48);
    expect(offsets(PARAMS_LAYOUT)).toEqual({
      seqLen: 0,
      kvLen: 4,
      dModel: 8,
      heads: 12,
      dHead: 16,
      width: 20,
      causal: 24,
      xKVOffset: 28,
      kOffset: 32,
      vOffset: 36,
      scale: 40,
      rows: 44,
    });
    expect(PARAMS_LAYOUT.fields.scale.type).toBe('f32');
    expect(PARAMS_LAYOUT.fields.rows.type).toBe('u32');
  });

  it('lays out ReduceParams (14 fields: 56 bytes, allocated as 64), GridParams (16) and Chunk (4 → 16)', () => {
    expect(REDUCE_PARAMS_LAYOUT.size).toBe(64);
    expect(REDUCE_PARAMS_LAYOUT.fields.planeStride).toEqual({ offset: 48, type: 'u32' });
    expect(REDUCE_PARAMS_LAYOUT.fields.scale).toEqual({ offset: 52, type: 'f32' });
    expect(Object.keys(REDUCE_PARAMS_LAYOUT.fields)).toHaveLength(14);
    expect(GRID_PARAMS_LAYOUT.size).toBe(16);
    expect(offsets(GRID_PARAMS_LAYOUT)).toEqual({ rows: 0, cols: 4, mode: 8, firstRow: 12 });
    expect(CHUNK_LAYOUT.size).toBe(16);
    expect(offsets(CHUNK_LAYOUT)).toEqual({ firstBlock: 0 });
  });

  it('ignores comments, reads i32, and finds the named struct among others', () => {
    const wgsl = `
      struct Other { a: f32, };
      /* struct Blocked { x: u32 } */
      struct Mixed {
        count: u32,   // a comment: with, commas
        delta: i32,
        /* nested /* block */ comment */ weight: f32
      };`;
    const layout = uniformLayout(wgsl, 'Mixed');
    expect(layout).toEqual({
      name: 'Mixed',
      size: 16,
      fields: { count: { offset: 0, type: 'u32' }, delta: { offset: 4, type: 'i32' }, weight: { offset: 8, type: 'f32' } },
    });
  });

  it('refuses what it cannot lay out, naming it', () => {
    expect(() => uniformLayout('struct A { x: u32 };', 'B')).toThrow(/struct B is declared 0 times/);
    expect(() => uniformLayout('struct A { x: u32 }; struct A { y: u32 };', 'A')).toThrow(/struct A is declared 2 times/);
    expect(() => uniformLayout('struct A { v: vec4<f32> };', 'A')).toThrow(/A\.v has type vec4<f32>; only u32, i32 and f32/);
    expect(() => uniformLayout('struct A { @align(16) x: u32 };', 'A')).toThrow(/cannot lay out member "@align\(16\) x: u32"/);
    expect(() => uniformLayout('struct A { x: u32, x: f32 };', 'A')).toThrow(/A\.x is declared twice/);
    expect(() => uniformLayout('struct A { };', 'A')).toThrow(/no fields/);
  });
});

describe('packUniform', () => {
  it('writes each field at its offset: u32 and i32 as integers, f32 as a float', () => {
    const layout = uniformLayout('struct P { n: u32, d: i32, s: f32 };', 'P');
    const bytes = packUniform(layout, { s: 0.125, n: 7, d: -3 });
    expect(bytes.byteLength).toBe(16);
    const view = new DataView(bytes);
    expect(view.getUint32(0, true)).toBe(7);
    expect(view.getInt32(4, true)).toBe(-3);
    expect(view.getFloat32(8, true)).toBe(0.125);
    expect(view.getUint32(12, true)).toBe(0);
  });

  it('packs Params as the kernels read it: scale 1/√64 = 0.125 at byte 40, rows at 44', () => {
    const values = {
      seqLen: 5, kvLen: 6, dModel: 8, heads: 2, dHead: 64, width: 128, causal: 1,
      xKVOffset: 0, kOffset: 640, vOffset: 1408, scale: 1 / Math.sqrt(64), rows: 10,
    };
    const bytes = packUniform(PARAMS_LAYOUT, values);
    expect(Array.from(new Uint32Array(bytes, 0, 10))).toEqual([5, 6, 8, 2, 64, 128, 1, 0, 640, 1408]);
    expect(new Float32Array(bytes)[10]).toBe(0.125);
    expect(new Uint32Array(bytes)[11]).toBe(10);
  });

  it('names missing and unknown fields, and values that do not fit', () => {
    expect(() => packUniform(GRID_PARAMS_LAYOUT, { rows: 1, cols: 2, mode: 0 })).toThrow(/packUniform\(GridParams\): missing field firstRow\./);
    expect(() => packUniform(CHUNK_LAYOUT, {})).toThrow(/missing field firstBlock/);
    expect(() => packUniform(CHUNK_LAYOUT, { firstBlock: 0, pad0: 0, pad1: 1 })).toThrow(/unknown fields pad0, pad1/);
    expect(() => packUniform(GRID_PARAMS_LAYOUT, { rows: 1, cols: 2, firstRow: 0, mood: 1 })).toThrow(/missing field mode; unknown field mood/);
    expect(() => packUniform(CHUNK_LAYOUT, { firstBlock: -1 })).toThrow(/firstBlock = -1 is not a valid u32/);
    expect(() => packUniform(CHUNK_LAYOUT, { firstBlock: 1.5 })).toThrow(/firstBlock = 1.5 is not a valid u32/);
    expect(() => packUniform(CHUNK_LAYOUT, { firstBlock: 2 ** 32 })).toThrow(/not a valid u32/);
    const layout = uniformLayout('struct P { d: i32, s: f32 };', 'P');
    expect(() => packUniform(layout, { d: 2 ** 31, s: 0 })).toThrow(/d = 2147483648 is not a valid i32/);
    expect(() => packUniform(layout, { d: 0, s: Number.NaN })).toThrow(/s = NaN is not a valid f32/);
  });
});
