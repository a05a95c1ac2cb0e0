import { describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { readSafetensors, readSafetensorsFile, writeSafetensors } from '../../src/inputs/safetensors';
import { AttentionInputError } from '../../src/core/errors';
import { makeRandomInputs } from '../../src/reference/random';
import {
  TensorFileError,
  bfloat16ToFloat,
  guessRoles,
  halfToFloat,
  shapeFromRoles,
  tensorsFromInputs,
  transpose2d,
  type Tensor,
  type TensorFileField,
} from '../../src/inputs/tensors';

/**
 * A .safetensors file built by hand: u64 LE length, the header text as given (padded with
 * spaces to 8 bytes when `pad`), then the data section.
 */
function stFile(header: string | object, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && json.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const f64 = (values: number[]): Uint8Array => new Uint8Array(new Float64Array(values).buffer);

function fileError(fn: () => unknown): TensorFileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TensorFileError);
    return error as TensorFileError;
  }
  throw new Error('expected a TensorFileError, nothing was thrown');
}

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
  const cases: Array<[string, () => Uint8Array, TensorFileField, string?]> = [
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
  for (const [what, make, field, mention] of cases) {
    it(`refuses ${what}`, () => {
      const e = fileError(() => readSafetensors(make(), 'bad.safetensors'));
      expect(e.field).toBe(field);
      expect(e).toBeInstanceOf(AttentionError);
      expect(e.message).toContain('bad.safetensors');
      expect(e.message).toContain(field);
      expect(e.message).toContain(e.given);
      expect(e.message).toContain(e.allowed);
      if (mention !== undefined) expect(e.message).toContain(mention);
    });
  }

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

describe('role mapping (import dialog)', () => {
  const t = (name: string, shape: number[], fill = 0.5): Tensor => ({
    name,
    shape,
    dtype: 'float32',
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
  });

  function inputError(fn: () => unknown): AttentionInputError {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      return error as AttentionInputError;
    }
    throw new Error('expected an AttentionInputError, nothing was thrown');
  }

  it('maps common names to roles', () => {
    const cases: Array<[string, string]> = [
      ['x', 'x'], ['X', 'x'], ['input', 'x'], ['embeddings', 'x'], ['hidden_states', 'x'],
      ['x_kv', 'xKV'], ['context', 'xKV'],
      ['wq', 'wq'], ['W_Q', 'wq'], ['w_k', 'wk'], ['Wv', 'wv'], ['to_q', 'wq'],
      ['q', 'q'], ['K', 'k'], ['value', 'v'],
    ];
    for (const [name, role] of cases) {
      const guess = guessRoles([t(name, [4, 4])]);
      expect(Object.entries(guess.roles).map(([r, a]) => [r, a?.name])).toEqual([[role, name]]);
    }
    expect(guessRoles([t('bias', [4]), t('q_proj.bias', [4])]).unassigned).toEqual(['bias', 'q_proj.bias']);
  });

  it('proposes transposes for PyTorch Linear weights, and says why', () => {
    const tensors = [
      t('model.layers.0.self_attn.q_proj.weight', [48, 32]),
      t('model.layers.0.self_attn.k_proj.weight', [48, 32]),
      t('encoder.layer.0.attention.self.value.weight', [48, 32]),
      t('inputs_embeds', [1, 6, 32]),
    ];
    const guess = guessRoles(tensors);
    expect(guess.roles.x).toEqual({ name: 'inputs_embeds', transpose: false });
    expect(guess.roles.wq).toEqual({ name: tensors[0].name, transpose: true });
    expect(guess.roles.wk?.transpose).toBe(true);
    expect(guess.roles.wv).toEqual({ name: tensors[2].name, transpose: true });
    expect(guess.notes.join('\n')).toContain('transposed');
    // Already dModel × width: no transpose, even with a .weight name.
    expect(guessRoles([t('x', [6, 32]), t('query.weight', [32, 48])]).roles.wq?.transpose).toBe(false);
    // Shape alone: a weight named wq stored (out, in).
    expect(guessRoles([t('x', [6, 32]), t('wq', [48, 32])]).roles.wq?.transpose).toBe(true);
    // Ambiguous names: first one wins, the note says so.
    const twice = guessRoles([t('wq', [2, 2]), t('W_Q', [2, 2])]);
    expect(twice.roles.wq?.name).toBe('wq');
    expect(twice.unassigned).toEqual(['W_Q']);
    expect(twice.notes[0]).toContain('both');
  });

  it('derives the shape and inputs from x and PyTorch weights through a .safetensors round trip', () => {
    const rows = 6;
    const dModel = 4;
    const width = 6;
    const wqOutIn = t('q_proj.weight', [width, dModel]);
    wqOutIn.data.forEach((_, i, a) => (a[i] = i));
    const file = writeSafetensors([t('x', [1, rows, dModel]), wqOutIn, t('k_proj.weight', [width, dModel]), t('v_proj.weight', [width, dModel])]);
    const tensors = readSafetensors(file);
    const { roles } = guessRoles(tensors);
    const result = shapeFromRoles(roles, tensors, 2);
    expect(result.mode).toBe('weights');
    if (result.mode !== 'weights') return;
    expect(result.shape).toEqual({ seqLen: rows, kvLen: rows, dModel, heads: 2, dHead: 3 });
    // wq[i][j] = W[j][i]: row i of ours is column i of PyTorch's (out, in) weight.
    expect(result.inputs.wq[0 * width + 1]).toBe(wqOutIn.data[1 * dModel + 0]);
    expect(result.inputs.wq[3 * width + 5]).toBe(wqOutIn.data[5 * dModel + 3]);
  });

  it('explains disagreeing shapes, naming the tensor, its shape and the shape expected', () => {
    const tensors = [t('x', [5, 32]), t('wq', [64, 48]), t('wk', [32, 48]), t('wv', [32, 48])];
    const roles = { x: { name: 'x', transpose: false }, wq: { name: 'wq', transpose: false }, wk: { name: 'wk', transpose: false }, wv: { name: 'wv', transpose: false } };
    let e = inputError(() => shapeFromRoles(roles, tensors, 4));
    expect(e.field).toBe('wq');
    expect(e.message).toContain('[64, 48]');
    expect(e.message).toContain('dModel 32');
    expect(e.message).toContain('[32, heads·dHead]');
    e = inputError(() => shapeFromRoles(roles, [t('x', [5, 32]), t('wq', [48, 32]), tensors[2], tensors[3]], 4));
    expect(e.message).toContain('transpose');
    e = inputError(() => shapeFromRoles(roles, [tensors[0], t('wq', [32, 48]), t('wk', [32, 40]), tensors[3]], 4));
    expect(e.field).toBe('wk');
    e = inputError(() => shapeFromRoles(roles, [tensors[0], t('wq', [32, 48]), tensors[2], tensors[3]], 5));
    expect(e.field).toBe('heads');
    expect(e.message).toContain('48');
    e = inputError(() => shapeFromRoles({ ...roles, xKV: { name: 'ctx', transpose: false } }, [...tensors, t('ctx', [7, 16])], 4));
    expect(e.field).toBe('xKV');
    e = inputError(() => shapeFromRoles({ ...roles, x: { name: 'nope', transpose: false } }, tensors, 4));
    expect(e.given).toContain('nope');
    e = inputError(() => shapeFromRoles(roles, [t('x', [2, 5, 32]), ...tensors.slice(1)], 4));
    expect(e.message).toContain('[2, 5, 32]');
    e = inputError(() => shapeFromRoles({ x: roles.x, wq: roles.wq }, tensors, 4));
    expect(e.field).toBe('roles');
    e = inputError(() => shapeFromRoles(roles, [t('x', [5, 32], Number.NaN), t('wq', [32, 48]), tensors[2], tensors[3]], 4));
    expect(e.kind).toBe('non-finite');
    expect(inputError(() => shapeFromRoles(roles, tensors, 0)).field).toBe('heads');
  });

  it('supports cross-attention through xKV', () => {
    const tensors = [t('x', [3, 8]), t('memory', [5, 8]), t('wq', [8, 4]), t('wk', [8, 4]), t('wv', [8, 4])];
    const result = shapeFromRoles(guessRoles(tensors).roles, tensors, 2);
    expect(result.shape).toEqual({ seqLen: 3, kvLen: 5, dModel: 8, heads: 2, dHead: 2 });
  });

  it('takes Q, K (and V) directly', () => {
    const tensors = [t('q', [3, 8]), t('k', [5, 8]), t('v', [5, 8])];
    const result = shapeFromRoles(guessRoles(tensors).roles, tensors, 2);
    expect(result.mode).toBe('direct');
    expect(result.shape).toEqual({ seqLen: 3, kvLen: 5, width: 8, heads: 2, dHead: 4 });
    const noV = shapeFromRoles(guessRoles(tensors.slice(0, 2)).roles, tensors.slice(0, 2), 4);
    expect(noV.mode === 'direct' && noV.v === undefined).toBe(true);
    const roles = guessRoles(tensors).roles;
    expect(inputError(() => shapeFromRoles(roles, [tensors[0], t('k', [5, 6]), tensors[2]], 2)).field).toBe('k');
    expect(inputError(() => shapeFromRoles(roles, [tensors[0], tensors[1], t('v', [4, 8])], 2)).field).toBe('v');
    expect(inputError(() => shapeFromRoles(roles, tensors, 3)).field).toBe('heads');
  });

  it('exports the current inputs so they import back unchanged', () => {
    const shape = { seqLen: 3, kvLen: 4, dModel: 4, heads: 2, dHead: 3 };
    const inputs = makeRandomInputs(shape, 7);
    const back = readSafetensors(writeSafetensors(tensorsFromInputs(shape, inputs)));
    const result = shapeFromRoles(guessRoles(back).roles, back, 2);
    expect(result).toEqual({ mode: 'weights', shape, inputs });
  });

  it('transposes 2-d tensors of any size', () => {
    const m = t('m', [37, 70]);
    m.data.forEach((_, i, a) => (a[i] = i));
    const tt = transpose2d(m);
    expect(tt.shape).toEqual([70, 37]);
    expect(tt.data[5 * 37 + 36]).toBe(36 * 70 + 5);
    expect(transpose2d(tt).data).toEqual(m.data);
    expect(inputError(() => transpose2d(t('v', [3]))).kind).toBe('shape');
  });
});
