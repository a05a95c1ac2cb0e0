/**
 * The WGSL of every kernel, ready for `getKernel`: the files of shaders/ assembled per kernel
 * and written out for its tile sizes (src/kernels/shader-variants.ts), with the origin of every
 * line so a compile error names the shader file and line. shaders/generated/ holds the same text
 * for every variant that runs, for reading (`npm run shaders` writes it; the app never loads it).
 */
import type { ShaderSource } from '../gpu/pipeline';
import type { LaneTile } from './lane-tiles';
import { assembleKernel, variantLabel, type KernelName, type WeightFormat } from './shader-variants';

export type { KernelName, WeightFormat } from './shader-variants';

const raw = import.meta.glob<string>(['../../shaders/**/*.wgsl', '!../../shaders/generated/**'], { query: '?raw', import: 'default', eager: true });

/** Every source file of shaders/ (not shaders/generated/), by its path there (`scores.wgsl`, `parts/tiles.wgsl`). */
export const SHADER_FILES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(raw).map(([path, text]) => [path.replace(/^.*\/shaders\//, ''), text]),
);

const assembled = new Map<string, ShaderSource>();

/**
 * The WGSL of kernel `name` with the origin of every line; `tile` is required for the lane-tile
 * kernels (`*Lanes`) and refused for the others (a `KernelSourceError` says which to pass);
 * `weights` picks the storage of a linear or embedding kernel's weights (f32, or the checkpoint's
 * 16 bits). Assembled once per kernel, tile and format.
 */
export function kernelSource(name: KernelName, tile?: LaneTile, weights: WeightFormat = 'f32'): ShaderSource {
  const label = variantLabel(name, tile, weights);
  let source = assembled.get(label);
  if (!source) {
    source = assembleKernel(SHADER_FILES, name, tile, weights);
    assembled.set(label, source);
  }
  return source;
}
