/**
 * The float encodings .npy and .safetensors files store (float16, bfloat16, float32, float64,
 * little-endian) and their conversion to and from the float32 arrays every tensor holds.
 * Shared by both readers and both writers, so the two formats decode values the same way.
 * Pure TypeScript: runs in Node, the page and the tensor worker.
 */

/**
 * The dtype the values had in the file. `data` is always float32: float64 is rounded to the
 * nearest float32 (about 7 significant digits kept; magnitudes beyond ±3.4·10³⁸ become
 * ±Infinity and tiny ones flush towards 0, which input validation then reports), float16 and
 * bfloat16 widen to float32 exactly.
 */
export type TensorDtype = 'float16' | 'bfloat16' | 'float32' | 'float64';

/** How the values of a tensor are encoded in its file. */
export type StoredFloat = 'f16' | 'bf16' | 'f32' | 'f64';

/** Bytes per element of each stored float type. */
export const STORED_FLOAT_BYTES: Readonly<Record<StoredFloat, number>> = { f16: 2, bf16: 2, f32: 4, f64: 8 };

/** The dtype reported for each stored float type. */
export const STORED_FLOAT_DTYPE: Readonly<Record<StoredFloat, TensorDtype>> = {
  f16: 'float16',
  bf16: 'bfloat16',
  f32: 'float32',
  f64: 'float64',
};

// Both formats are little-endian. Every browser engine in practice runs little-endian, where
// a typed-array view reads the file's bytes directly; on a big-endian host we fall back to a
// DataView, which is slower but correct.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | undefined;

/** The float32 value of an IEEE 754 binary16 bit pattern (exact: every half is a float). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** The float32 value of a bfloat16 bit pattern: the top half of a float32. */
export function bfloat16ToFloat(bits: number): number {
  const word = new Uint32Array([(bits & 0xffff) << 16]);
  return new Float32Array(word.buffer)[0];
}

/** Options of the readers (`readNpy`, `readSafetensors`). */
export interface ReadOptions {
  /**
   * `false`: return float32 data as a view into the input's buffer when it is 4-byte aligned
   * (no copy: a 500 MB file then costs 500 MB, not 1 GB). The view shares memory with the
   * input, so only use it when nothing else will write to or transfer that buffer. Other
   * dtypes, and unaligned data, are copied anyway. Default `true`.
   */
  copy?: boolean;
}

/**
 * Decode `count` little-endian floats of type `stored` starting at `bytes[begin]` into a
 * Float32Array. The caller has checked that the bytes are there. Works at any byte offset:
 * the bytes are copied into a fresh (aligned) buffer before any wider view is made, which
 * also detaches the result from the caller's buffer; only aligned float32 with
 * `copy: false` skips the copy (see {@link ReadOptions}).
 */
export function decodeFloats(bytes: Uint8Array, begin: number, count: number, stored: StoredFloat, copy = true): Float32Array {
  const size = STORED_FLOAT_BYTES[stored];
  if (!copy && stored === 'f32' && HOST_LITTLE_ENDIAN && (bytes.byteOffset + begin) % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset + begin, count);
  }
  if (!HOST_LITTLE_ENDIAN) return decodeWithDataView(bytes.subarray(begin, begin + count * size), count, stored);
  // float32 is copied (slice is one memcpy into an aligned buffer); the other types are
  // converted into a new array anyway, so their input is copied only when it is unaligned.
  const at = bytes.byteOffset + begin;
  const raw = stored === 'f32' || at % size !== 0 ? Uint8Array.prototype.slice.call(bytes, begin, begin + count * size) : undefined;
  const buffer = raw === undefined ? bytes.buffer : raw.buffer;
  const offset = raw === undefined ? at : 0;
  switch (stored) {
    case 'f32':
      return new Float32Array(buffer, 0, count);
    case 'f64':
      // The typed-array constructor rounds each double to the nearest float32 natively.
      return new Float32Array(new Float64Array(buffer, offset, count));
    case 'bf16': {
      const halves = new Uint16Array(buffer, offset, count);
      const out = new Float32Array(count);
      const words = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
      return out;
    }
    case 'f16': {
      // A 65 536-entry table (256 KiB, built once) makes decoding a big tensor one lookup per value.
      if (halfTable === undefined) {
        halfTable = new Float32Array(65536);
        for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToFloat(bits);
      }
      const table = halfTable;
      const halves = new Uint16Array(buffer, offset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      return out;
    }
  }
}

function decodeWithDataView(raw: Uint8Array, count: number, stored: StoredFloat): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (stored === 'f32') out[i] = view.getFloat32(i * 4, true);
    else if (stored === 'f64') out[i] = view.getFloat64(i * 8, true);
    else if (stored === 'f16') out[i] = halfToFloat(view.getUint16(i * 2, true));
    else out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

/** The bytes of float32 values, little-endian whatever the host. */
export function float32Bytes(data: Float32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}
