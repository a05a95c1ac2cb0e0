import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/inputs/npy';
import type { Tensor } from '../../src/inputs/tensors';
import { f32Bytes, f64Bytes, fileError, itRefusesEach, npyFile, type RefusalCase } from './tensor-fixtures';

// Files written by NumPy 1.x/2.x `np.save` (base64), so the reader is checked against the
// real thing, not only against our writer.
const NUMPY_F4_2x3 = // np.arange(6, dtype='<f4').reshape(2, 3)
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=';
const NUMPY_F8_2x3 = // np.array([[0.1, -2.5, 1e-3], [3.0, 1e300, -0.0]], dtype='<f8')
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqamZmZmZm5PwAAAAAAAATA/Knx0k1iUD8AAAAAAAAIQJx1AIg85Dd+AAAAAAAAAIA=';
const NUMPY_FORTRAN = // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=';
const NUMPY_BIG_ENDIAN = // np.arange(3, dtype='>f4')
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=';
const NUMPY_I8 = // np.arange(3, dtype='<i8')
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAA=';

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** The header NumPy would write, padded to a 64-byte boundary for a v1 file. */
function numpyHeader(descr: string, shape: string, fortran = 'False'): string {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  return dict.padEnd(total - 10 - 1, ' ') + '\n';
}

describe('readNpy on files NumPy wrote', () => {
  it('reads float32 2 × 3', () => {
    const t = readNpy(fromBase64(NUMPY_F4_2x3), 'weights/x.npy');
    expect(t).toEqual({ name: 'x', shape: [2, 3], dtype: 'float32', data: new Float32Array([0, 1, 2, 3, 4, 5]) });
  });

  it('reads float64, rounding to float32 (1e300 overflows to Infinity, −0 stays −0)', () => {
    const t = readNpy(fromBase64(NUMPY_F8_2x3).buffer as ArrayBuffer);
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([Math.fround(0.1), -2.5, Math.fround(1e-3), 3, Number.POSITIVE_INFINITY, -0]);
    expect(Object.is(t.data[5], -0)).toBe(true);
  });

  it('refuses Fortran order, saying how to fix it', () => {
    const e = fileError(() => readNpy(fromBase64(NUMPY_FORTRAN), 'w.npy'));
    expect(e.field).toBe('fortran_order');
    expect(e.file).toBe('w.npy');
    expect(e.message).toContain('np.ascontiguousarray');
    expect(e.message).toContain('w.npy');
  });

  it('refuses big-endian and integer arrays, naming the dtype', () => {
    let e = fileError(() => readNpy(fromBase64(NUMPY_BIG_ENDIAN)));
    expect(e.field).toBe('dtype');
    expect(e.given).toContain('>f4');
    expect(e.message).toContain('big-endian');
    expect(e.allowed).toContain('<f4');
    e = fileError(() => readNpy(fromBase64(NUMPY_I8)));
    expect(e.field).toBe('dtype');
    expect(e.given).toContain('<i8');
    expect(e.message).toContain('astype(np.float32)');
  });
});

describe('readNpy on hand-built files', () => {
  it('reads the literal v1 header of the format spec', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    const values = Array.from({ length: 12 }, (_, i) => i / 4 - 1);
    const t = readNpy(npyFile(header.padEnd(117, ' ') + '\n', f32Bytes(values)));
    expect(t.shape).toEqual([3, 4]);
    expect(Array.from(t.data)).toEqual(values);
  });

  it('reads 0-d, 1-d, 2-d, 3-d and empty shapes', () => {
    const cases: Array<[string, number[]]> = [
      ['()', []],
      ['(5,)', [5]],
      ['(2, 3)', [2, 3]],
      ['(2, 3, 4)', [2, 3, 4]],
      ['(1, 1, 1, 1, 2)', [1, 1, 1, 1, 2]],
      ['(0, 3)', [0, 3]],
    ];
    for (const [text, shape] of cases) {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: count }, (_, i) => i * 0.5 - 3);
      const t = readNpy(npyFile(numpyHeader('<f4', text), f32Bytes(values)));
      expect(t.shape).toEqual(shape);
      expect(Array.from(t.data)).toEqual(values);
      const t64 = readNpy(npyFile(numpyHeader('<f8', text), f64Bytes(values)));
      expect(t64.dtype).toBe('float64');
      expect(Array.from(t64.data)).toEqual(values);
    }
  });

  it('reads float16 as a bonus', () => {
    const t = readNpy(npyFile(numpyHeader('<f2', '(3,)'), new Uint8Array([0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00])));
    expect(t.dtype).toBe('float16');
    expect(Array.from(t.data)).toEqual([1, -2.5, 2 ** -24]);
  });

  it('reads format 2.0 (u32 header length) and 3.0 (UTF-8 header)', () => {
    const v2 = readNpy(npyFile(numpyHeader('<f4', '(2,)'), f32Bytes([1, 2]), 2));
    expect(Array.from(v2.data)).toEqual([1, 2]);
    // Key order and quotes NumPy would not write, still a valid dict literal.
    const header = '{"shape": (2,), "fortran_order": False, "descr": "<f4"}\n';
    const v3 = readNpy(npyFile(header, f32Bytes([3, 4]), 3, 'utf8'));
    expect(Array.from(v3.data)).toEqual([3, 4]);
    // 3.0 decodes UTF-8: the stray key comes back as written.
    const accented = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'é': 1}";
    expect(fileError(() => readNpy(npyFile(accented, f32Bytes([3, 4]), 3, 'utf8'))).given).toContain("'é'");
    const bad = npyFile(header, f32Bytes([3, 4]), 3);
    bad[12 + 3] = 0xff; // inside the header: not UTF-8
    expect(fileError(() => readNpy(bad)).field).toBe('header');
  });

  it("accepts Python 2 long literals (2L), double quotes, no trailing comma and tabs", () => {
    const t = readNpy(npyFile("{\t'descr':'<f4','fortran_order':False,'shape':(2L, 1L)}", f32Bytes([7, 8])));
    expect(t.shape).toEqual([2, 1]);
  });

  it('reads data at any byte offset (unaligned views) and never shares memory with the input', () => {
    const file = npyFile(numpyHeader('<f8', '(2, 2)'), f64Bytes([1.5, -2, 0.25, 8]));
    for (const offset of [1, 2, 3, 5, 7]) {
      const buffer = new ArrayBuffer(file.length + offset + 3);
      const view = new Uint8Array(buffer, offset, file.length);
      view.set(file);
      const t = readNpy(view);
      expect(Array.from(t.data)).toEqual([1.5, -2, 0.25, 8]);
      expect(t.data.buffer).not.toBe(buffer);
    }
    const f4 = npyFile(numpyHeader('<f4', '(3,)'), f32Bytes([1, 2, 3]));
    const shifted = new Uint8Array(f4.length + 1);
    shifted.set(f4, 1);
    const t = readNpy(shifted.subarray(1));
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
    shifted.fill(0);
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
  });
});

describe('readNpy without a copy', () => {
  it('returns a view into the input for aligned float32, and copies otherwise', () => {
    const bytes = writeNpy({ name: 'w', shape: [4], dtype: 'float32', data: new Float32Array([1, 2, 3, 4]) });
    const view = readNpy(bytes, 'w.npy', { copy: false });
    expect(view.data.buffer).toBe(bytes.buffer);
    bytes.fill(0, bytes.length - 4); // the bytes of 4.0: the view sees the change
    expect(view.data[3]).toBe(0);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(readNpy(shifted.subarray(1), 'w.npy', { copy: false }).data.buffer).not.toBe(shifted.buffer);
  });
});

describe('writeNpy', () => {
  it('writes byte for byte what np.save writes', () => {
    const t: Tensor = { name: 'x', shape: [2, 3], dtype: 'float32', data: new Float32Array([0, 1, 2, 3, 4, 5]) };
    expect(Buffer.from(writeNpy(t)).toString('base64')).toBe(NUMPY_F4_2x3);
  });

  it('pads the header so data starts at a multiple of 64, with numpy’s shape syntax', () => {
    for (const shape of [[], [5], [2, 3], [2, 3, 4], Array.from({ length: 30 }, () => 1)]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const bytes = writeNpy({ name: 'a', shape, dtype: 'float32', data: new Float32Array(count).fill(1) });
      const headerLength = bytes[8] | (bytes[9] << 8);
      expect((10 + headerLength) % 64).toBe(0);
      const header = String.fromCharCode(...bytes.subarray(10, 10 + headerLength));
      expect(header.endsWith('\n')).toBe(true);
      const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
      expect(header).toContain(`'shape': ${shapeText}, }`);
      expect(bytes.length).toBe(10 + headerLength + count * 4);
    }
  });

  it('round-trips through readNpy, including unaligned reads', () => {
    const data = new Float32Array([0.1, -1e-30, 3e38, 0, -0, 1 / 3, 7, -8]);
    for (const shape of [[8], [2, 4], [2, 2, 2], [1, 8, 1]]) {
      const bytes = writeNpy({ name: 'w', shape, dtype: 'float32', data });
      const back = readNpy(bytes);
      expect(back.shape).toEqual(shape);
      expect(back.data).toEqual(data);
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      expect(readNpy(shifted.subarray(1)).data).toEqual(data);
    }
    const scalar = readNpy(writeNpy({ name: 's', shape: [], dtype: 'float32', data: new Float32Array([4.5]) }));
    expect(scalar).toMatchObject({ shape: [], data: new Float32Array([4.5]) });
  });

  it('refuses data that does not fill the shape', () => {
    const e = fileError(() => writeNpy({ name: 'w', shape: [2, 3], dtype: 'float32', data: new Float32Array(5) }));
    expect(e.field).toBe('length');
    expect(e.message).toContain('6');
    expect(fileError(() => writeNpy({ name: 'w', shape: [-1], dtype: 'float32', data: new Float32Array(1) })).field).toBe('shape');
  });
});

describe('readNpy refuses every malformed file with a TensorFileError naming the field', () => {
  const good = npyFile(numpyHeader('<f4', '(2, 3)'), f32Bytes([1, 2, 3, 4, 5, 6]));
  const withLength = (file: Uint8Array, length: number): Uint8Array => {
    new DataView(file.buffer).setUint32(8, length, true);
    return file;
  };
  const withHeader = (header: string, data = f32Bytes([1, 2, 3, 4, 5, 6])): Uint8Array => npyFile(header, data);
  const cases: RefusalCase[] = [
    ['an empty file', () => new Uint8Array(0), 'magic'],
    ['wrong magic', () => Uint8Array.from(good, (b, i) => (i === 1 ? 0x4f : b)), 'magic'],
    ['a safetensors file', () => new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]), 'magic'],
    ['only the magic', () => good.slice(0, 6), 'version'],
    ['version 4.0', () => Uint8Array.from(good, (b, i) => (i === 6 ? 4 : b)), 'version', '4.0'],
    ['version 1.1', () => Uint8Array.from(good, (b, i) => (i === 7 ? 1 : b)), 'version'],
    ['a cut header length', () => good.slice(0, 9), 'header_length'],
    ['a header longer than the file', () => good.slice(0, 40), 'header_length'],
    ['a header over 1 MiB', () => withLength(npyFile('', new Uint8Array(64), 2), 2 ** 20 + 1), 'header_length'],
    ['a header length of 2³² − 1', () => withLength(npyFile('', new Uint8Array(64), 2), 2 ** 32 - 1), 'header_length'],
    ['an empty header', () => withHeader(''), 'header'],
    ['code instead of a dict', () => withHeader("__import__('os').system('x')"), 'header'],
    ['a list header', () => withHeader("['<f4']"), 'header'],
    ['a call inside the dict', () => withHeader("{'descr': str('<f4'), 'fortran_order': False, 'shape': (2, 3)}"), 'header'],
    ['an unterminated string', () => withHeader("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}"), 'header'],
    ['a missing key', () => withHeader("{'descr': '<f4', 'shape': (2, 3)}"), 'header', "'descr', 'shape'"],
    ['an extra key', () => withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"), 'header'],
    ['a repeated key', () => withHeader("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"), 'header'],
    ['text after the dict', () => withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x"), 'header'],
    ['deep nesting', () => withHeader(`{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(50)}`), 'header'],
    ['complex values', () => withHeader(numpyHeader('<c8', '(2, 3)'), new Uint8Array(48)), 'dtype', '<c8'],
    ['object arrays', () => withHeader(numpyHeader('|O', '(2, 3)')), 'dtype', 'pickle'],
    ["'|f4'", () => withHeader(numpyHeader('|f4', '(2, 3)')), 'dtype'],
    ['a structured dtype', () => withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}"), 'dtype', 'structured'],
    ['fortran_order not a bool', () => withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}"), 'fortran_order'],
    ['a negative dim', () => withHeader(numpyHeader('<f4', '(-2, 3)')), 'shape', '(-2, 3)'],
    ['a fractional dim', () => withHeader(numpyHeader('<f4', '(2.0, 3)')), 'shape', '(2.0, 3)'],
    ['a string dim', () => withHeader(numpyHeader('<f4', "('2', 3)")), 'shape'],
    ['a shape that is an int', () => withHeader(numpyHeader('<f4', '(6)')), 'shape'],
    ['a shape that is a list', () => withHeader(numpyHeader('<f4', '[2, 3]')), 'shape'],
    ['2³¹ elements', () => withHeader(numpyHeader('<f4', '(65536, 32768)')), 'shape', '2147483647'],
    ['a product overflowing 2⁶⁴', () => withHeader(numpyHeader('<f4', '(4294967296, 4294967296, 4294967296)')), 'shape'],
    ['a 10³⁰⁰-digit dim', () => withHeader(numpyHeader('<f4', `(1${'0'.repeat(300)},)`)), 'shape'],
    ['65 dims', () => withHeader(numpyHeader('<f4', `(${Array(65).fill(1).join(', ')})`), f32Bytes([1])), 'shape'],
    ['truncated data', () => good.slice(0, good.length - 1), 'length', 'truncated'],
    ['extra data', () => npyFile(numpyHeader('<f4', '(2, 3)'), f32Bytes([1, 2, 3, 4, 5, 6, 7])), 'length'],
    ['f8 data for an f4 header', () => withHeader(numpyHeader('<f4', '(2, 3)'), f64Bytes([1, 2, 3, 4, 5, 6])), 'length'],
  ];
  itRefusesEach(readNpy, 'bad.npy', cases);

  it('refuses what is not bytes', () => {
    for (const input of [null, undefined, 'x.npy', [1, 2], new Float32Array(4), {}]) {
      expect(fileError(() => readNpy(input as unknown as Uint8Array)).field).toBe('input');
    }
  });
});
