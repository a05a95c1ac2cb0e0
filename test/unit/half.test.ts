/**
 * 16-bit packing for the GPU's weights (src/core/half.ts) against the decoders the checkpoint
 * readers use (src/inputs/float-codec.ts) and hand-worked bit patterns.
 */
import { describe, expect, it } from 'vitest';
import { floatToBfloat16Bits, floatToHalfBits, packHalves } from '../../src/core/half';
import { bfloat16ToFloat, halfToFloat } from '../../src/inputs/float-codec';

describe('floatToHalfBits', () => {
  it('hand-worked patterns: 1, −2, 0.5, 65504, the smallest normal and subnormal, ±0, ∞, NaN', () => {
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(0.5)).toBe(0x3800);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(2 ** -14)).toBe(0x0400);
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001);
    expect(floatToHalfBits(0)).toBe(0);
    expect(floatToHalfBits(-0)).toBe(0x8000);
    expect(floatToHalfBits(Infinity)).toBe(0x7c00);
    expect(floatToHalfBits(70000)).toBe(0x7c00);
    expect(floatToHalfBits(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(Number.NaN) & 0x3ff).not.toBe(0);
  });

  it('every one of the 63 488 finite halves round-trips through its float value', () => {
    const wrong: number[] = [];
    let checked = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue; // ∞ and NaN
      checked++;
      if (floatToHalfBits(halfToFloat(bits)) !== bits) wrong.push(bits);
    }
    expect(checked).toBe(63488);
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2⁻¹¹ lies halfway between 1 (0x3c00, even) and 1 + 2⁻¹⁰ (0x3c01): ties go to even.
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Subnormal range: 1.5 · 2⁻²⁴ ties to 2 · 2⁻²⁴.
    expect(floatToHalfBits(1.5 * 2 ** -24)).toBe(0x0002);
    expect(floatToHalfBits(2 ** -26)).toBe(0);
  });
});

describe('floatToBfloat16Bits', () => {
  it('the top half of the float32, rounded to nearest even; every bf16 round-trips', () => {
    expect(floatToBfloat16Bits(1)).toBe(0x3f80);
    expect(floatToBfloat16Bits(-2)).toBe(0xc000);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    for (let bits = 0; bits < 0x10000; bits += 7) {
      if ((bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0) continue; // NaN
      expect(floatToBfloat16Bits(bfloat16ToFloat(bits))).toBe(bits);
    }
    expect(floatToBfloat16Bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('packHalves', () => {
  it('two to a u32, the first in the low half; an odd count leaves the last high half 0', () => {
    expect(Array.from(packHalves([1, -2, 0.5], 'f16'))).toEqual([0xc0003c00, 0x00003800]);
    expect(Array.from(packHalves([1, -2], 'bf16'))).toEqual([0xc0003f80]);
    // A Uint16Array over the same bytes reads the values in order (little-endian hosts).
    const packed = packHalves([0.25, 3, -1, 7], 'f16');
    expect(Array.from(new Uint16Array(packed.buffer), halfToFloat)).toEqual([0.25, 3, -1, 7]);
  });
});
