/**
 * 16-bit floats for the GPU's weights: a model whose checkpoint stores F16 or BF16 keeps those
 * bits on the GPU, two to a u32 (shaders/parts/weights-f16.wgsl and weights-bf16.wgsl widen them
 * in the kernel). The parameters arrive widened to float32 (every 16-bit value is a float32), so
 * packing them again gives back the file's exact bits. Values that are not 16-bit values round to
 * the nearest (ties to even), as a cast would.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE binary16 bits nearest to `value` (ties to even; overflow → ±Infinity; NaN stays NaN). */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A subnormal half (or zero): the implicit 1 joins the mantissa, shifted right by 14 − e.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa raises the exponent, up to Infinity: still the nearest.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** The bfloat16 bits nearest to `value` (the top half of its float32, ties to even; NaN stays NaN). */
export function floatToBfloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * `data` as 16-bit floats of `format`, two to a u32: value 2n in the low half, 2n + 1 in the high
 * half (little-endian order, as a Uint16Array over the same bytes reads them); an odd count leaves
 * the last high half 0.
 */
export function packHalves(data: ArrayLike<number>, format: 'f16' | 'bf16'): Uint32Array {
  const encode = format === 'f16' ? floatToHalfBits : floatToBfloat16Bits;
  const out = new Uint32Array(Math.ceil(data.length / 2));
  for (let i = 0; i < data.length; i += 2) {
    const low = encode(data[i]);
    const high = i + 1 < data.length ? encode(data[i + 1]) : 0;
    out[i >> 1] = (low | (high << 16)) >>> 0;
  }
  return out;
}
