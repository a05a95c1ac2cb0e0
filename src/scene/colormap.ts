/**
 * Viridis, the perceptually uniform colormap of matplotlib, as 16 evenly spaced sRGB key colours
 * (matplotlib's published values at t = k/15) with linear interpolation between them: within
 * about 1/255 of the full 256-entry table, small enough to share between the legend (CSS), the
 * shader (the same keys in a uniform array) and tests. Pure TypeScript.
 */

/** The key colours, sRGB bytes, at t = 0, 1/15, …, 1. */
export const VIRIDIS_KEYS: ReadonlyArray<readonly [number, number, number]> = [
  0x440154, 0x481a6c, 0x472f7d, 0x414487, 0x39568c, 0x31688e, 0x2a788e, 0x23888e,
  0x1f988b, 0x22a884, 0x35b779, 0x54c568, 0x7ad151, 0xa5db36, 0xd2e21b, 0xfde725,
].map((hex) => [(hex >> 16) & 255, (hex >> 8) & 255, hex & 255] as const);

/** Viridis at t ∈ [0, 1] (clamped; NaN gives t = 0) as sRGB components in [0, 1]. */
export function viridis(t: number): [number, number, number] {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t)) * (VIRIDIS_KEYS.length - 1);
  const i = Math.min(VIRIDIS_KEYS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS_KEYS[i];
  const b = VIRIDIS_KEYS[i + 1];
  return [0, 1, 2].map((ch) => (a[ch] + (b[ch] - a[ch]) * f) / 255) as [number, number, number];
}

/** `#rrggbb` for an sRGB triple in [0, 1]. */
export function toHex(rgb: readonly [number, number, number]): string {
  return `#${rgb.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255).toString(16).padStart(2, '0')).join('')}`;
}

/** A CSS linear-gradient of viridis from `direction`'s start (t = 0) to its end (t = 1). */
export function viridisCss(direction = 'to right'): string {
  const stops = VIRIDIS_KEYS.map((_, k) => `${toHex(viridis(k / (VIRIDIS_KEYS.length - 1)))} ${((100 * k) / (VIRIDIS_KEYS.length - 1)).toFixed(2)}%`);
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}

/** The colour of masked cells: a neutral grey outside viridis's hue range (sRGB). */
export const MASKED_COLOR: readonly [number, number, number] = [0.42, 0.42, 0.44];
