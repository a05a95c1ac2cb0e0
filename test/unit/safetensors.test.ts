import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsFile, writeSafetensors } from '../../src/inputs/safetensors';
import { bfloat16ToFloat, halfToFloat } from '../../src/inputs/float-codec';
import type { Tensor } from '../../src/inputs/tensors';
import { concat, f32Bytes as f32, f64Bytes as f64, fileError, itRefusesEach, stFile, u16Bytes, type RefusalCase } from './tensor-fixtures';

// Hand-encoded bit patterns and the values they stand for.
const HALF: Array<[number, number]> = [
  [0x3c00, 1],
  [0xc100, -2.5],
  [0x0000, 0],
  [0x8000, -0],
  [0x0001, 2 ** -24], // smallest subnormal
  [0x03ff, 1023 * 2 ** -24], // largest subnormal
  [0x0400, 2 ** -14], // smallest normal
  [0x7bff, 65504], // largest finite
  [0x3555, 0.333251953125],
  [0x7c00, Number.POSITIVE_INFINITY],
  [0xfc00, Number.NEGATIVE_INFINITY],
];
const BF16: Array<[number, number]> = [
  [0x3f80, 1],
  [0xc020, -2.5],
  [0x8000, -0],
  [0x0001, 2 ** -133], // smallest subnormal: float32 bits 0x00010000
  [0x0080, 2 ** -126], // smallest normal
  [0x7f7f, 3.3895313892515355e38], // largest finite
  [0x3eab, 0.333984375],
  [0x7f80, Number.POSITIVE_INFINITY],
  [0xff80, Number.NEGATIVE_INFINITY],
];

describe('float16 and bfloat16 decoding', () => {
  it('decodes hand-encoded patterns exactly', () => {
    for (const [bits, value] of HALF) expect(Object.is(halfToFloat(bits), value) || halfToFloat(bits) === value).toBe(true);
    for (const [bits, value] of BF16) expect(bfloat16ToFloat(bits)).toBe(value);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(bfloat16ToFloat(0x7fc0)).toBeNaN();
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });

  it('is strictly increasing over every positive finite half', () => {
    let out = 0;
    for (let bits = 0; bits < 0x7bff; bits++) if (!(halfToFloat(bits + 1) > halfToFloat(bits))) out++;
    expect(out).toBe(0);
  });
});

describe('readSafetensors on hand-built files', () => {
  it('reads F32 with metadata, naming shapes and dtypes', () => {
    const file = stFile(
      { __metadata__: { format: 'pt' }, x: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } },
      f32([1, 2, 3, 4, 5, 6]),
    );
    const { tensors, metadata } = readSafetensorsFile(file, 'm.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors).toEqual([{ name: 'x', shape: [2, 3], dtype: 'float32', data: new Float32Array([1, 2, 3, 4, 5, 6]) }]);
  });

  it('reads F64, F16 and BF16, converting to float32, in data order', () => {
    const half = u16Bytes(HALF.map(([b]) => b));
    const bf = u16Bytes(BF16.map(([b]) => b));
    const doubles = f64([0.1, -2.5, 1e-50]);
    const header = {
      // Listed out of data order, and with an integer-like name JSON would put first.
      wq: { dtype: 'BF16', shape: [BF16.length], data_offsets: [half.length, half.length + bf.length] },
      '7': { dtype: 'F64', shape: [3, 1], data_offsets: [half.length + bf.length, half.length + bf.length + 24] },
      h: { dtype: 'F16', shape: [HALF.length], data_offsets: [0, half.length] },
    };
    const tensors = readSafetensors(stFile(header, concat(half, bf, doubles)));
    expect(tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['h', 'float16', [HALF.length]],
      ['wq', 'bfloat16', [BF16.length]],
      ['7', 'float64', [3, 1]],
    ]);
    expect(Array.from(tensors[0].data)).toEqual(HALF.map(([, v]) => v));
    expect(Array.from(tensors[1].data)).toEqual(BF16.map(([, v]) => v));
    expect(Array.from(tensors[2].data)).toEqual([Math.fround(0.1), -2.5, 0]); // 1e-50 underflows float32
  });

  it('reads 0-d, 1-d, 2-d, 3-d and empty tensors', () => {
    const header = {
      s: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
      a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      b: { dtype: 'F32', shape: [1, 2], data_offsets: [12, 20] },
      c: { dtype: 'F32', shape: [2, 1, 2], data_offsets: [20, 36] },
      e: { dtype: 'F32', shape: [0, 5], data_offsets: [36, 36] },
    };
    const tensors = readSafetensors(stFile(header, f32([9, 1, 2, 3, 4, 5, 6, 7, 8])));
    expect(tensors.map((t) => [t.name, t.shape, Array.from(t.data)])).toEqual([
      ['s', [], [9]],
      ['a', [2], [1, 2]],
      ['b', [1, 2], [3, 4]],
      ['c', [2, 1, 2], [5, 6, 7, 8]],
      ['e', [0, 5], []],
    ]);
  });

  it('reads an unpadded header and data at odd offsets from an unaligned view', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},"b":{"dtype":"F64","shape":[1],"data_offsets":[9,17]}}';
    const file = stFile(header, concat(new Uint8Array([0xaa]), f32([1.5, -3]), f64([0.25])), false);
    for (const offset of [0, 1, 3]) {
      const holder = new Uint8Array(file.length + offset);
      holder.set(file, offset);
      const tensors = readSafetensors(holder.subarray(offset));
      expect(tensors.map((t) => Array.from(t.data))).toEqual([[1.5, -3], [0.25]]);
      holder.fill(0);
      expect(Array.from(tensors[0].data)).toEqual([1.5, -3]); // copies, not views
    }
  });

  it('can return views into the input instead of copies (aligned F32 only)', () => {
    const bytes = writeSafetensors([{ name: 'a', shape: [2], dtype: 'float32', data: new Float32Array([1, 2]) }]);
    const [a] = readSafetensors(bytes, 'm.safetensors', { copy: false });
    expect(a.data.buffer).toBe(bytes.buffer);
    const [copied] = readSafetensors(bytes);
    expect(copied.data.buffer).not.toBe(bytes.buffer);
  });

  it('reads an empty header', () => {
    expect(readSafetensors(stFile('{}'))).toEqual([]);
  });
});

describe('writeSafetensors', () => {
  const tensors: Tensor[] = [
    { name: 'x', shape: [3, 2], dtype: 'float32', data: new Float32Array([0.5, -1, 2, 1e-20, 3e38, -0]) },
    { name: 'model.layers.0.self_attn.q_proj.weight', shape: [2, 2], dtype: 'float32', data: new Float32Array([1, 2, 3, 4]) },
    { name: 's', shape: [], dtype: 'float32', data: new Float32Array([7]) },
    { name: '__proto__', shape: [1], dtype: 'float32', data: new Float32Array([8]) },
  ];

  it('pads the header with spaces to 8 bytes and packs F32 data in order', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeGreaterThan(0);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header.x).toEqual({ dtype: 'F32', shape: [3, 2], data_offsets: [0, 24] });
    expect(header['model.layers.0.self_attn.q_proj.weight'].data_offsets).toEqual([24, 40]);
    expect(bytes.length).toBe(8 + n + 48);
  });

  it('round-trips tensors and metadata, also from an unaligned copy', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'é ✓' });
    const { tensors: back, metadata } = readSafetensorsFile(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'é ✓' });
    expect(back).toEqual(tensors);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(readSafetensors(shifted.subarray(1))).toEqual(tensors);
    expect(readSafetensors(writeSafetensors([]))).toEqual([]);
  });

  it('refuses duplicate or reserved names, data that does not fill the shape, non-string metadata', () => {
    const t = tensors[0];
    expect(fileError(() => writeSafetensors([t, t])).field).toBe('tensor');
    expect(fileError(() => writeSafetensors([{ ...t, name: '__metadata__' }])).message).toContain('reserved');
    expect(fileError(() => writeSafetensors([{ ...t, name: '' }])).field).toBe('tensor');
    const e = fileError(() => writeSafetensors([{ ...t, shape: [4, 2] }]));
    expect(e.field).toBe('length');
    expect(e.tensor).toBe('x');
    expect(fileError(() => writeSafetensors([t], { n: 1 } as unknown as Record<string, string>)).field).toBe('metadata');
  });
});

describe('readSafetensors refuses every malformed file with a TensorFileError naming the field', () => {
  const entry = (over: Record<string, unknown>): Uint8Array =>
    stFile({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16], ...over } }, f32([1, 2, 3, 4]));
  const withLength = (low: number, high: number, total = 64): Uint8Array => {
    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    view.setUint32(0, low, true);
    view.setUint32(4, high, true);
    return out;
  };
  const cases: RefusalCase[] = [
    ['an empty file', () => new Uint8Array(0), 'header_length'],
    ['7 bytes', () => new Uint8Array(7), 'header_length'],
    ['a header length beyond the file', () => withLength(57, 0), 'header_length', 'truncated'],
    ['a header length over 100 MB', () => withLength(100_000_000 + 1, 0), 'header_length', '100000000'],
    ['a header length over 2³²', () => withLength(16, 1), 'header_length'],
    ['a header length of 2⁶⁴ − 1', () => withLength(0xffffffff, 0xffffffff), 'header_length'],
    ['a zero header length', () => withLength(0, 0), 'header'],
    ['a .npy file', () => new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x76, 0, 0x7b]), 'header_length'],
    ['invalid JSON', () => stFile('{"w": {"dtype": "F32",'), 'header', 'invalid JSON'],
    ['a trailing comma', () => stFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},}', f32([1])), 'header'],
    ['invalid UTF-8', () => stFile('{"w\u00e9": 1}').map((b) => (b === 0xc3 ? 0xff : b)), 'header', 'UTF-8'],
    ['a JSON array', () => stFile('[1, 2]'), 'header', 'array'],
    ['JSON null', () => stFile('null'), 'header'],
    ['a JSON number', () => stFile('12345678'), 'header'],
    ['metadata that is not an object', () => stFile({ __metadata__: 'pt' }), 'metadata'],
    ['a non-string metadata value', () => stFile({ __metadata__: { step: 10 } }), 'metadata', 'step'],
    ['an entry that is not an object', () => stFile({ w: [1, 2] }), 'tensor', '"w"'],
    ['a missing dtype', () => entry({ dtype: undefined }), 'dtype'],
    ['I64', () => entry({ dtype: 'I64' }), 'dtype', 'tensor.float()'],
    ['U8', () => entry({ dtype: 'U8' }), 'dtype', '"w"'],
    ['BOOL', () => entry({ dtype: 'BOOL' }), 'dtype'],
    ['F8_E4M3', () => entry({ dtype: 'F8_E4M3' }), 'dtype'],
    ['an unknown dtype', () => entry({ dtype: 'F128' }), 'dtype', 'not a safetensors dtype'],
    ['dtype "constructor"', () => entry({ dtype: 'constructor' }), 'dtype'],
    ['lower-case f32', () => entry({ dtype: 'f32' }), 'dtype'],
    ['a missing shape', () => entry({ shape: undefined }), 'shape'],
    ['a shape that is a number', () => entry({ shape: 4 }), 'shape'],
    ['a negative dim', () => entry({ shape: [-2, -2] }), 'shape', '[-2,-2]'],
    ['a fractional dim', () => entry({ shape: [2.5, 1.6] }), 'shape'],
    ['a string dim', () => entry({ shape: ['2', 2] }), 'shape'],
    ['2³¹ elements', () => entry({ shape: [65536, 32768] }), 'shape', '2147483647'],
    ['a product overflowing 2⁶⁴', () => entry({ shape: [2 ** 40, 2 ** 40, 2 ** 40] }), 'shape'],
    ['1e300 as a dim', () => entry({ shape: [1e300] }), 'shape'],
    ['missing data_offsets', () => entry({ data_offsets: undefined }), 'data_offsets'],
    ['three offsets', () => entry({ data_offsets: [0, 8, 16] }), 'data_offsets'],
    ['negative offsets', () => entry({ data_offsets: [-16, 0] }), 'data_offsets'],
    ['fractional offsets', () => entry({ data_offsets: [0, 15.5] }), 'data_offsets'],
    ['offsets beyond 2⁵³', () => entry({ data_offsets: [0, 2 ** 60] }), 'data_offsets'],
    ['end before begin', () => entry({ data_offsets: [16, 0] }), 'data_offsets'],
    ['end past the data', () => entry({ data_offsets: [4, 20] }), 'data_offsets', 'truncated'],
    ['a length that does not match the shape', () => entry({ data_offsets: [0, 12] }), 'length', '16 bytes'],
    ['F64 dtype over F32-sized data', () => entry({ dtype: 'F64' }), 'length'],
    ['truncated data', () => entry({}).slice(0, -1), 'data_offsets'],
  ];
  itRefusesEach(readSafetensors, 'bad.safetensors', cases);

  it('names the tensor in the message', () => {
    const e = fileError(() => readSafetensors(entry({ dtype: 'I64' })));
    expect(e.tensor).toBe('w');
    expect(e.message).toContain('(tensor "w")');
    expect(e.given).toContain('I64');
  });

  it('refuses what is not bytes', () => {
    for (const input of [null, 'model.safetensors', new Float32Array(4)]) {
      expect(fileError(() => readSafetensors(input as unknown as Uint8Array)).field).toBe('input');
    }
  });
});
