import { describe, expect, it } from 'vitest';
import { toHex, viridis, viridisCss } from '../../src/scene/colormap';

/** Published matplotlib viridis colours (the 256-entry table at indices 0, 64, 128, 192, 255). */
const PUBLISHED: Array<[number, string]> = [
  [0, '#440154'],
  [64 / 255, '#3b528b'],
  [128 / 255, '#21918c'],
  [192 / 255, '#5ec962'],
  [1, '#fde725'],
];

function bytes(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/** Relative luminance (WCAG) of sRGB components in [0, 1]. */
function luminance([r, g, b]: readonly number[]): number {
  const lin = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

describe('viridis', () => {
  it('matches published viridis colours within 3/255 per channel', () => {
    for (const [t, hex] of PUBLISHED) {
      const actual = viridis(t).map((c) => c * 255);
      const expected = bytes(hex);
      for (let ch = 0; ch < 3; ch++) expect(Math.abs(actual[ch] - expected[ch]), `t=${t} channel ${ch}: ${toHex(viridis(t))} vs ${hex}`).toBeLessThanOrEqual(3);
    }
  });

  it('has the exact endpoints and the midpoint ≈ #21918c', () => {
    expect(toHex(viridis(0))).toBe('#440154');
    expect(toHex(viridis(1))).toBe('#fde725');
    const mid = viridis(0.5).map((c) => c * 255);
    bytes('#21918c').forEach((e, ch) => expect(Math.abs(mid[ch] - e)).toBeLessThanOrEqual(2));
  });

  it('rises monotonically in luminance', () => {
    let previous = -1;
    for (let k = 0; k <= 200; k++) {
      const y = luminance(viridis(k / 200));
      expect(y).toBeGreaterThan(previous);
      previous = y;
    }
  });

  it('clamps outside [0, 1] and treats NaN as 0', () => {
    // The published endpoints: #440154 at t = 0, #fde725 at t = 1.
    expect(toHex(viridis(-3))).toBe('#440154');
    expect(toHex(viridis(7))).toBe('#fde725');
    expect(toHex(viridis(Number.NaN))).toBe('#440154');
  });

  it('gives a CSS gradient from #440154 to #fde725', () => {
    const css = viridisCss();
    expect(css.startsWith('linear-gradient(to right, #440154 0.00%')).toBe(true);
    expect(css.endsWith('#fde725 100.00%)')).toBe(true);
  });
});
