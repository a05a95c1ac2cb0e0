/**
 * NumPy .npy files: read float arrays (format versions 1.0, 2.0, 3.0) and write float32 ones.
 *
 * Our own reader rather than a package: npyjs (the maintained one) finds the header keys
 * with regular expressions, ignores the byte-order character (so a big-endian file reads as
 * garbage), takes `.buffer` of a view and so ignores its byte offset, never checks the data
 * length against the shape, throws untyped errors and pulls in cross-fetch. A .npy file is a
 * 10-line format; what takes care is refusing every malformed file with a typed error, which
 * is what this module is for.
 *
 * Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * `\x93NUMPY`, major, minor, header length (u16 LE for 1.0, u32 LE for 2.0 and 3.0), the
 * header (latin-1; UTF-8 for 3.0): a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a
 * newline, then the raw values. The header is parsed by a small strict literal parser,
 * never evaluated.
 */
import { STORED_FLOAT_BYTES, STORED_FLOAT_DTYPE, decodeFloats, float32Bytes, type ReadOptions, type StoredFloat } from './float-codec';
import { TensorFileError, checkDims, checkTensorForWriting, toBytes, type Tensor } from './tensors';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * The longest header we parse. NumPy itself refuses headers over 10 000 bytes unless told
 * otherwise; 1 MiB leaves room for any real file while keeping a corrupt length cheap.
 */
export const MAX_NPY_HEADER_BYTES = 1 << 20;

/** NumPy's data alignment: the header is padded so the values start at a multiple of 64. */
export const NPY_ALIGNMENT = 64;

const HEADER_EXAMPLE = "a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";

// Accepted descr strings. '<' is little-endian; NumPy writes it for every multi-byte type on
// little-endian machines. '|' (byte order not applicable) is refused: no NumPy writes it for
// a multi-byte float, so such a file's byte order is unknown.
// (A Map, so a descr such as 'constructor' finds nothing.)
const FLOAT_DESCRS: ReadonlyMap<string, StoredFloat> = new Map([['<f2', 'f16'], ['<f4', 'f32'], ['<f8', 'f64']]);
const ALLOWED_DESCRS = "'<f4' (float32) or '<f8' (float64), also '<f2' (float16)";

/**
 * Read a .npy file of little-endian floats in C order. float64 (and float16) values are
 * converted to float32 (see `TensorDtype` for what rounding does); the result never shares
 * memory with `bytes`, and `bytes` may be a view at any offset. Throws
 * {@link TensorFileError} for anything else: wrong magic or version, a malformed or oversized
 * header, a dtype other than '<f2' / '<f4' / '<f8', Fortran order, a bad shape (negative or
 * fractional dims, more than 2³¹ − 1 elements) or data whose length does not match the shape.
 *
 * Synchronous, one pass over the data (a copy, or a conversion for float64); call it from a
 * worker for large files, and consider `{ copy: false }` there (see {@link ReadOptions}).
 */
export function readNpy(bytes: ArrayBuffer | Uint8Array, fileName = 'array.npy', options: ReadOptions = {}): Tensor {
  const file = fileName;
  const data = toBytes(bytes, file);
  if (data.length < MAGIC.length || MAGIC.some((byte, i) => data[i] !== byte)) {
    const start = Array.from(data.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new TensorFileError(file, 'magic', data.length < 6 ? `${data.length} bytes` : `bytes ${start}`, 'a .npy file starting with \\x93NUMPY (93 4e 55 4d 50 59)');
  }
  if (data.length < 8) {
    throw new TensorFileError(file, 'version', `nothing (the file ends after ${data.length} bytes)`, 'format version 1.0, 2.0 or 3.0');
  }
  const major = data[6];
  const minor = data[7];
  if ((major !== 1 && major !== 2 && major !== 3) || minor !== 0) {
    throw new TensorFileError(file, 'version', `${major}.${minor}`, 'format version 1.0, 2.0 or 3.0');
  }
  const lengthBytes = major === 1 ? 2 : 4;
  if (data.length < 8 + lengthBytes) {
    throw new TensorFileError(file, 'header_length', `a file of ${data.length} bytes`, `at least ${8 + lengthBytes} bytes for a version ${major}.0 preamble`);
  }
  const headerLength =
    major === 1
      ? data[8] | (data[9] << 8)
      : (data[8] | (data[9] << 8) | (data[10] << 16)) + data[11] * 2 ** 24; // u32 without sign trouble
  const headerStart = 8 + lengthBytes;
  if (headerLength > MAX_NPY_HEADER_BYTES) {
    throw new TensorFileError(file, 'header_length', `${headerLength} bytes`, `at most ${MAX_NPY_HEADER_BYTES} bytes`);
  }
  if (headerStart + headerLength > data.length) {
    throw new TensorFileError(
      file,
      'header_length',
      `${headerLength} bytes`,
      `at most the ${data.length - headerStart} bytes left in the file (is it truncated?)`,
    );
  }
  const headerBytes = data.subarray(headerStart, headerStart + headerLength);
  let headerText: string;
  if (major === 3) {
    try {
      headerText = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw new TensorFileError(file, 'header', 'bytes that are not valid UTF-8', `a UTF-8 header (format 3.0): ${HEADER_EXAMPLE}`);
    }
  } else {
    // latin-1: one byte, one code point (TextDecoder's 'latin1' is really windows-1252).
    let text = '';
    for (let i = 0; i < headerBytes.length; i += 8192) {
      text += String.fromCharCode(...headerBytes.subarray(i, i + 8192));
    }
    headerText = text;
  }

  const header = parseHeader(headerText, file);
  const stored = FLOAT_DESCRS.get(header.descr);
  if (stored === undefined) throw new TensorFileError(file, 'dtype', describeDescr(header.descr), `${ALLOWED_DESCRS}${descrHint(header.descr)}`);
  if (header.fortranOrder) {
    throw new TensorFileError(
      file,
      'fortran_order',
      'True (column-major)',
      'False (C order); save it with np.save(path, np.ascontiguousarray(arr))',
    );
  }
  const count = checkDims(file, header.shape, header.shapeText);
  const dataStart = headerStart + headerLength;
  const expected = count * STORED_FLOAT_BYTES[stored];
  const present = data.length - dataStart;
  if (present !== expected) {
    throw new TensorFileError(
      file,
      'length',
      `${present} bytes of data`,
      `exactly ${expected} bytes: shape ${header.shapeText} = ${count} values × ${STORED_FLOAT_BYTES[stored]} bytes${present < expected ? ' (the file is truncated)' : ''}`,
    );
  }
  return {
    name: baseName(file),
    shape: header.shape,
    dtype: STORED_FLOAT_DTYPE[stored],
    data: decodeFloats(data, dataStart, count, stored, options?.copy ?? true),
  };
}

/**
 * Write a tensor as a .npy file (format 1.0, '<f4', C order), its header padded with spaces
 * and a newline so the values start at a multiple of 64 bytes, as NumPy does. Falls back to
 * format 2.0, as NumPy does, only if the header outgrows 1.0's 16-bit length (thousands of
 * dimensions). Throws {@link TensorFileError} if `data` does not hold product(shape) values.
 */
export function writeNpy(tensor: Tensor): Uint8Array {
  checkTensorForWriting(tensor, `${tensor?.name ?? 'tensor'}.npy`);
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  let major = 1;
  let preamble = 10;
  // +1 for the closing newline; pad so preamble + header is a multiple of the alignment.
  let headerLength = Math.ceil((preamble + dict.length + 1) / NPY_ALIGNMENT) * NPY_ALIGNMENT - preamble;
  if (headerLength > 0xffff) {
    major = 2;
    preamble = 12;
    headerLength = Math.ceil((preamble + dict.length + 1) / NPY_ALIGNMENT) * NPY_ALIGNMENT - preamble;
  }
  const values = float32Bytes(tensor.data);
  const out = new Uint8Array(preamble + headerLength + values.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i); // ASCII only
  out.set(values, preamble + headerLength);
  return out;
}

function baseName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.npy$/i, '') || base;
}

function describeDescr(descr: string): string {
  return `descr ${JSON.stringify(descr)}`;
}

/** A fix for the common refused dtypes. */
function descrHint(descr: string): string {
  const order = descr[0];
  const kind = descr.replace(/^[<>|=]/, '')[0];
  if (order === '>' && kind === 'f') return `; this is big-endian: save arr.astype('<${descr.slice(1)}')`;
  if (order === '|' && kind === 'f') return "; '|' leaves the byte order unknown: save arr.astype('<f4')";
  if (kind === 'i' || kind === 'u' || kind === 'b') return '; integers and booleans are not weights: save arr.astype(np.float32)';
  if (kind === 'c') return '; complex values have no attention meaning: save arr.real.astype(np.float32)';
  if (kind === 'O') return '; object arrays need pickle, which is never loaded here';
  return '; save arr.astype(np.float32)';
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** The shape as the file wrote it, for messages. */
  shapeText: string;
}

// --- a strict parser for the Python literals a .npy header may hold -------------------------

type Py =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number; text: string }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'tuple' | 'list'; v: Py[] }
  | { t: 'dict'; v: Map<string, Py> };

/** Deeper nesting than this is corruption, and the cap keeps the recursion bounded. */
const MAX_DEPTH = 8;

function parseHeader(text: string, file: string): NpyHeader {
  const parser = new LiteralParser(text, file);
  const value = parser.parseDocument();
  if (value.t !== 'dict') parser.fail(`a ${pyType(value)}`);
  const dict = (value as { v: Map<string, Py> }).v;
  const keys = [...dict.keys()];
  const wanted = ['descr', 'fortran_order', 'shape'];
  if (keys.length !== 3 || !wanted.every((k) => dict.has(k))) {
    throw new TensorFileError(file, 'header', `keys ${keys.map((k) => `'${k}'`).join(', ') || '(none)'}`, `exactly the keys 'descr', 'fortran_order', 'shape': ${HEADER_EXAMPLE}`);
  }
  const descr = dict.get('descr')!;
  if (descr.t !== 'str') {
    const what = descr.t === 'list' ? 'a structured (record) dtype' : `a ${pyType(descr)}`;
    throw new TensorFileError(file, 'dtype', what, `${ALLOWED_DESCRS}; save a plain float array`);
  }
  const fortran = dict.get('fortran_order')!;
  if (fortran.t !== 'bool') throw new TensorFileError(file, 'fortran_order', `a ${pyType(fortran)}`, 'False');
  const shape = dict.get('shape')!;
  if (shape.t !== 'tuple') {
    throw new TensorFileError(file, 'shape', `a ${pyType(shape)}`, 'a tuple of integers ≥ 0, e.g. (3, 4), (5,) or ()');
  }
  const dims = shape.v;
  const shapeText = `(${dims.map(pyText).join(', ')}${dims.length === 1 ? ',' : ''})`;
  // Anything but a plain int literal (3.0, 1e3, a string) becomes NaN, so checkDims refuses
  // it with the shape as written.
  const numbers = dims.map((d) => (d.t === 'num' && /^[-+]?\d+L?$/.test(d.text) ? d.v : Number.NaN));
  checkDims(file, numbers, shapeText);
  return { descr: descr.v, fortranOrder: fortran.v, shape: numbers, shapeText };
}

function pyType(value: Py): string {
  return value.t === 'str' ? 'string' : value.t === 'num' ? 'number' : value.t === 'none' ? 'None' : value.t;
}

function pyText(value: Py): string {
  switch (value.t) {
    case 'str':
      return `'${value.v}'`;
    case 'num':
      return value.text;
    case 'bool':
      return value.v ? 'True' : 'False';
    case 'none':
      return 'None';
    default:
      return value.t;
  }
}

class LiteralParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  /** Throw a header error showing where parsing stopped. */
  fail(what: string): never {
    const near = this.text.slice(this.pos, this.pos + 24);
    const given = `${what} at character ${this.pos}${near ? ` (near ${JSON.stringify(near)})` : ''}`;
    throw new TensorFileError(this.file, 'header', given, HEADER_EXAMPLE);
  }

  parseDocument(): Py {
    const value = this.parseValue(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the dict');
    return value;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\n' && c !== '\t' && c !== '\r' && c !== '\0') break;
      this.pos++;
    }
  }

  private parseValue(depth: number): Py {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('the end of the header');
    if (c === '{') return this.parseDict(depth);
    if (c === '(') return this.parseSequence(depth, ')');
    if (c === '[') return this.parseSequence(depth, ']');
    if (c === "'" || c === '"') return { t: 'str', v: this.parseString() };
    if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return this.parseNumber();
    for (const [word, value] of [['True', { t: 'bool', v: true }], ['False', { t: 'bool', v: false }], ['None', { t: 'none' }]] as const) {
      if (this.text.startsWith(word, this.pos) && !/[A-Za-z0-9_]/.test(this.text[this.pos + word.length] ?? '')) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  private parseDict(depth: number): Py {
    this.pos++; // {
    const map = new Map<string, Py>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return { t: 'dict', v: map };
      }
      const c = this.text[this.pos];
      if (c !== "'" && c !== '"') this.fail('a dict key that is not a string');
      const key = this.parseString();
      if (map.has(key)) this.fail(`the key '${key}' twice`);
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("no ':' after a key");
      this.pos++;
      map.set(key, this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail("no ',' or '}' after a value");
    }
  }

  /** A tuple or list. Like Python, `(3)` is just 3, while `(3,)` and `()` are tuples. */
  private parseSequence(depth: number, close: ')' | ']'): Py {
    this.pos++;
    const items: Py[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        if (close === ')' && items.length === 1 && !sawComma) return items[0];
        return { t: close === ')' ? 'tuple' : 'list', v: items };
      }
      items.push(this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.text[this.pos] !== close) {
        this.fail(`no ',' or '${close}' after an item`);
      }
    }
  }

  private parseString(): string {
    const quote = this.text[this.pos++];
    let out = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === '\n') this.fail('an unterminated string');
      if (c === quote) return out;
      if (c === '\\') {
        const next = this.text[this.pos++];
        const escapes: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t' };
        if (next === undefined || !(next in escapes)) this.fail('an unsupported escape in a string');
        out += escapes[next];
      } else {
        out += c;
      }
    }
  }

  /** An int (Python 2 headers may write `3L`) or a float, kept as written for messages. */
  private parseNumber(): Py {
    const match = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?L?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (match === null) return this.fail('a malformed number');
    this.pos += match[0].length;
    const text = match[0];
    return { t: 'num', v: Number(text.replace(/L$/, '')), text };
  }
}
