/**
 * .safetensors files: read F32, F64, F16 and BF16 tensors; write F32 ones.
 *
 * Our own reader rather than a package: the npm package `safetensors` is a 0.0.1 placeholder,
 * Hugging Face publishes no JavaScript parser of its own, and the format is an 8-byte length,
 * a JSON header and raw little-endian values, so JSON.parse does the parsing; what needs
 * care is checking every header field against the file, which a generic loader would not do
 * with our typed errors.
 *
 * Format (https://github.com/huggingface/safetensors#format): u64 LE header length N, N bytes
 * of UTF-8 JSON `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 * …, "__metadata__": {"key": "value"}}`, then the data section; offsets count from its first
 * byte.
 */
import { STORED_FLOAT_BYTES, STORED_FLOAT_DTYPE, decodeFloats, float32Bytes, type ReadOptions, type StoredFloat } from './float-codec';
import { TensorFileError, checkDims, checkTensorForWriting, formatShape, toBytes, type Tensor } from './tensors';

/** The largest JSON header accepted, as the reference implementation (100 MB). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

// A Map, not an object literal: a dtype of "constructor" or "__proto__" must not find anything.
const FLOAT_DTYPES: ReadonlyMap<string, StoredFloat> = new Map([['F32', 'f32'], ['F64', 'f64'], ['F16', 'f16'], ['BF16', 'bf16']]);
const ALLOWED_DTYPES = 'F32, F64, F16 or BF16';
/** Dtypes the format defines that we refuse, so the message can say why rather than "unknown". */
const KNOWN_OTHER_DTYPES = new Set(['BOOL', 'U8', 'I8', 'U16', 'I16', 'U32', 'I32', 'U64', 'I64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
/** Bytes per value of the whole-byte non-float dtypes, for a reader that skips them (HeaderOptions.otherDtypes). */
const OTHER_DTYPE_BYTES: ReadonlyMap<string, number> = new Map([
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E4M3', 1], ['F8_E5M2', 1], ['F8_E8M0', 1],
  ['U16', 2], ['I16', 2], ['U32', 4], ['I32', 4], ['U64', 8], ['I64', 8], ['C64', 8],
]);

/** Key/value strings a file may carry in `__metadata__`. */
export type SafetensorsMetadata = Record<string, string>;

/** Tensors and metadata of a .safetensors file. */
export interface SafetensorsFile {
  tensors: Tensor[];
  metadata: SafetensorsMetadata;
}

/**
 * Read every tensor of a .safetensors file, in the order of their data, converted to float32
 * (F16 and BF16 exactly, F64 rounded: see `TensorDtype`). The results never share memory
 * with `bytes` (unless `options.copy` is false), which may be a view at any offset. Throws {@link TensorFileError} naming the
 * field (and the tensor) for: a header length beyond the file or over 100 MB, a header that
 * is not UTF-8 JSON or not an object, a `__metadata__` that is not a string → string map, an
 * entry without dtype / shape / data_offsets, a dtype other than F32 / F64 / F16 / BF16, a
 * bad shape, or offsets outside the data section or not matching the shape.
 *
 * Synchronous, one pass over the data (a copy, or a conversion for F64/F16/BF16); call it
 * from a worker for large files, and consider `{ copy: false }` there (see {@link ReadOptions}).
 */
export function readSafetensors(bytes: ArrayBuffer | Uint8Array, fileName = 'model.safetensors', options: ReadOptions = {}): Tensor[] {
  return readSafetensorsFile(bytes, fileName, options).tensors;
}

/** {@link readSafetensors}, also returning the file's `__metadata__` (empty when absent). */
export function readSafetensorsFile(bytes: ArrayBuffer | Uint8Array, fileName = 'model.safetensors', options: ReadOptions = {}): SafetensorsFile {
  const file = fileName;
  const data = toBytes(bytes, file);
  if (data.length < 8) {
    throw new TensorFileError(file, 'header_length', `a file of ${data.length} bytes`, 'at least 8 bytes (a little-endian u64 header length)');
  }
  const headerLength = readSafetensorsHeaderLength(data, file);
  if (8 + headerLength > data.length) {
    throw new TensorFileError(file, 'header_length', `${headerLength} bytes`, `at most the ${data.length - 8} bytes after the length (is the file truncated?)`);
  }
  const dataStart = 8 + headerLength;
  const { entries, metadata } = parseSafetensorsHeader(data.subarray(8, dataStart), data.length - dataStart, file);
  const tensors = entries.map(({ name, stored, shape, begin, count }) => ({
    name,
    shape,
    dtype: STORED_FLOAT_DTYPE[stored!],
    data: decodeFloats(data, dataStart + begin, count, stored!, options?.copy ?? true),
  }));
  return { tensors, metadata };
}

/** One tensor of a .safetensors header, checked against its shape and the data section. */
export interface SafetensorsEntry {
  name: string;
  /** The dtype as the file wrote it (`'F32'`, `'BF16'`, `'U8'`, …). */
  dtype: string;
  /** How to decode it; null for a non-float dtype (only with `otherDtypes`: skip its bytes). */
  stored: StoredFloat | null;
  shape: number[];
  /** Its bytes, counted from the data section's first byte: [begin, end). */
  begin: number;
  end: number;
  /** product(shape). */
  count: number;
}

/** Options of {@link parseSafetensorsHeader}. */
export interface HeaderOptions {
  /**
   * Accept the format's non-float dtypes (BOOL, U8, I32, …) with `stored: null`, for a reader
   * that skips such tensors (a causal-mask buffer) rather than refusing the file. Default false.
   */
  otherDtypes?: boolean;
}

/**
 * The header length of a .safetensors file from its first 8 bytes (a little-endian u64), refused
 * with a {@link TensorFileError} above {@link MAX_SAFETENSORS_HEADER_BYTES}. The caller checks
 * that the file holds that many bytes after the length. `first` must hold at least 8 bytes.
 */
export function readSafetensorsHeaderLength(first: Uint8Array, file = 'model.safetensors'): number {
  const low = (first[0] | (first[1] << 8) | (first[2] << 16)) + first[3] * 2 ** 24;
  const high = (first[4] | (first[5] << 8) | (first[6] << 16)) + first[7] * 2 ** 24;
  const headerLength = high * 2 ** 32 + low; // may be inexact above 2⁵³, but is refused then anyway
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES) {
    const headerText = high === 0 ? String(low) : `about ${headerLength.toPrecision(4)}`;
    throw new TensorFileError(file, 'header_length', `${headerText} bytes`, `at most ${MAX_SAFETENSORS_HEADER_BYTES} bytes (is this a .safetensors file?)`);
  }
  return headerLength;
}

/**
 * Parse and check the JSON header of a .safetensors file (the bytes after the length): every
 * entry's dtype, shape and data_offsets, against `dataLength` (the data section's length; pass
 * undefined when it is not known yet, as in a stream, whose end then checks it). Returns the
 * entries in the order of their data, and the `__metadata__`. Throws {@link TensorFileError}
 * as {@link readSafetensors}. Shared by the whole-file reader and src/pretrained's stream reader.
 */
export function parseSafetensorsHeader(
  header: Uint8Array,
  dataLength: number | undefined,
  file = 'model.safetensors',
  options: HeaderOptions = {},
): { entries: SafetensorsEntry[]; metadata: SafetensorsMetadata } {
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(header);
    json = JSON.parse(text);
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : 'bytes that are not valid UTF-8';
    throw new TensorFileError(file, 'header', `invalid JSON (${why.slice(0, 120)})`, 'a UTF-8 JSON object {"name": {"dtype", "shape", "data_offsets"}, …}');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TensorFileError(file, 'header', `JSON ${json === null ? 'null' : Array.isArray(json) ? 'array' : typeof json}`, 'a JSON object {"name": {"dtype", "shape", "data_offsets"}, …}');
  }

  const limit = dataLength ?? Number.MAX_SAFE_INTEGER;
  let metadata: SafetensorsMetadata = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(file, entry);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new TensorFileError(file, 'tensor', describeJson(entry), 'an object {"dtype", "shape", "data_offsets"}', name);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new TensorFileError(file, 'dtype', describeJson(dtype), ALLOWED_DTYPES, name);
    const stored = FLOAT_DTYPES.get(dtype) ?? null;
    const otherBytes = options.otherDtypes === true ? OTHER_DTYPE_BYTES.get(dtype) : undefined;
    if (stored === null && otherBytes === undefined) {
      const why = KNOWN_OTHER_DTYPES.has(dtype) ? ' (attention inputs are floats: convert with tensor.float() before saving)' : ' (not a safetensors dtype)';
      throw new TensorFileError(file, 'dtype', JSON.stringify(dtype.slice(0, 40)) + why, ALLOWED_DTYPES, name);
    }
    if (!Array.isArray(shape)) throw new TensorFileError(file, 'shape', describeJson(shape), 'an array of integers ≥ 0', name);
    const count = checkDims(file, shape, describeJson(shape), name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      throw new TensorFileError(file, 'data_offsets', describeJson(offsets), '[begin, end]: two integers ≥ 0', name);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > limit) {
      throw new TensorFileError(
        file,
        'data_offsets',
        `[${begin}, ${end}]`,
        `0 ≤ begin ≤ end ≤ ${limit}, the data section's length${end > limit ? ' (is the file truncated?)' : ''}`,
        name,
      );
    }
    const size = stored === null ? otherBytes! : STORED_FLOAT_BYTES[stored];
    if (end - begin !== count * size) {
      throw new TensorFileError(
        file,
        'length',
        `${end - begin} bytes (data_offsets [${begin}, ${end}])`,
        `${count * size} bytes: shape ${formatShape(shape as number[])} = ${count} values × ${size} bytes (${dtype})`,
        name,
      );
    }
    entries.push({ name, dtype, stored, shape: (shape as number[]).slice(), begin, end, count });
  }

  // The file's data order (JSON key order would put integer-like names first).
  entries.sort((a, b) => a.begin - b.begin || (a.name < b.name ? -1 : 1));
  return { entries, metadata };
}

/**
 * Write tensors as a .safetensors file: F32 values, packed in the given order, the JSON
 * header padded with spaces so the data section starts at a multiple of 8 bytes. Throws
 * {@link TensorFileError} for an empty, duplicate or reserved ('__metadata__') name, data
 * that does not hold product(shape) values, or metadata that is not string → string.
 */
export function writeSafetensors(tensors: readonly Tensor[], metadata?: SafetensorsMetadata): Uint8Array {
  const file = 'model.safetensors';
  if (!Array.isArray(tensors)) throw new TensorFileError(file, 'input', describeJson(tensors), 'an array of tensors');
  // Null prototype: a tensor named "__proto__" is then an ordinary key.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata !== undefined) header.__metadata__ = checkMetadata(file, metadata);
  let offset = 0;
  const seen = new Set<string>();
  for (const tensor of tensors) {
    checkTensorForWriting(tensor, file);
    if (tensor.name === '__metadata__' || seen.has(tensor.name)) {
      const why = tensor.name === '__metadata__' ? 'reserved for metadata' : 'used twice';
      throw new TensorFileError(file, 'tensor', `the name ${JSON.stringify(tensor.name)} (${why})`, 'unique names other than "__metadata__"', tensor.name);
    }
    seen.add(tensor.name);
    const end = offset + tensor.data.length * 4;
    header[tensor.name] = { dtype: 'F32', shape: tensor.shape.slice(), data_offsets: [offset, end] };
    offset = end;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true); // high u32 stays 0: headers < 4 GiB
  out.set(json, 8);
  let at = 8 + json.length;
  for (const tensor of tensors) {
    out.set(float32Bytes(tensor.data), at);
    at += tensor.data.length * 4;
  }
  return out;
}

function checkMetadata(file: string, value: unknown): SafetensorsMetadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TensorFileError(file, 'metadata', describeJson(value), 'an object of string → string');
  }
  const out: SafetensorsMetadata = Object.create(null) as SafetensorsMetadata;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (typeof item !== 'string') {
      throw new TensorFileError(file, 'metadata', `${JSON.stringify(key)}: ${describeJson(item)}`, 'string values only');
    }
    out[key] = item;
  }
  return out;
}

/** Short text for a JSON value in a message (never the whole of a huge value). */
function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
