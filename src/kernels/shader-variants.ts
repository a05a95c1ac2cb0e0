/**
 * How each kernel's WGSL is assembled from the files in shaders/, and which variants run.
 *
 * A kernel is a list of WGSL files put one after another: the shared parts it needs (`before`:
 * directives such as `enable subgroups`, common.wgsl, …), then the tile sizes it is unrolled for
 * declared as WGSL constants (`const TILE_ROWS: u32 = 8u;`), then its own file, then parts that
 * complete it (`after`: e.g. which `finish` a linear kernel applies). The kernel files are plain
 * WGSL except for `//#unroll` lines, which write out the register tiles for those same sizes
 * (src/kernels/unroll.ts). Nothing here reads files: the caller passes them (Vite's glob in
 * src/kernels/shaders.ts, the file system in scripts/gen-shaders.ts), so the app, the unit tests
 * and the generator expand the very same text.
 *
 * Every variant that runs ({@link runningVariants}) is also committed, written out, under
 * shaders/generated/ (`npm run shaders`); test/unit/generated-shaders.test.ts fails when one
 * is out of date.
 */
import { AttentionError } from '../core/errors';
import type { LineOrigin, ShaderSource } from '../gpu/pipeline';
import { checkLaneTile, type LaneTile } from './lane-tiles';
import { LINEAR_ROWS, MAP_TILE, NARROW_ROWS, PROJ_TILE, outputLaunch } from './launch';
import { DEFAULT_TUNING, LANE_TUNING, SOFTWARE_TUNING, WORKGROUP_TUNING } from './tuning';
import { expandWgsl } from './unroll';

export type KernelName =
  | 'projections'
  | 'scores'
  | 'softmax'
  | 'softmaxSubgroup'
  | 'output'
  | 'flash'
  | 'flashReduce'
  | 'flashD16'
  | 'flashD32'
  | 'flashD64'
  | 'flashReduceD16'
  | 'flashReduceD32'
  | 'flashReduceD64'
  | 'reduce'
  | 'projectionsLanes'
  | 'scoresLanes'
  | 'outputLanes'
  | 'projectionsBias'
  | 'projectionsLanesBias'
  | 'embed'
  | 'layerNorm'
  | 'rmsNorm'
  | 'rope'
  | 'linear'
  | 'linearGelu'
  | 'linearResidual'
  | 'logits'
  | 'linearLanes'
  | 'linearLanesGelu'
  | 'linearLanesResidual'
  | 'logitsLanes'
  | 'linearWorkgroup'
  | 'linearWorkgroupGelu'
  | 'linearWorkgroupResidual'
  | 'logitsWorkgroup'
  | 'linearT'
  | 'linearTResidual'
  | 'linearLanesT'
  | 'linearLanesTResidual'
  | 'linearWorkgroupT'
  | 'linearWorkgroupTResidual'
  | 'swiglu'
  | 'repeatKv'
  | 'pairWeights'
  | 'qkProjection';

/** A kernel's files (paths under shaders/) and the tile sizes it is written out for. */
interface KernelRecipe {
  before: readonly string[];
  file: string;
  after?: readonly string[];
  /** Tile sizes (WGSL constants and //#unroll bounds); 'lanes': TILE_ROWS × TILE_COLS of the caller's lane tile. */
  sizes?: Readonly<Record<string, number>> | 'lanes';
}

/**
 * The written-out fused kernels (shaders/flash-fixed.wgsl), by head size: query rows per
 * invocation and keys per block; a workgroup has 128 / rows invocations, so a block is 128
 * queries, as flash.wgsl's 64 · 2. Measured on SwiftShader at seqLen 1024, one causal head of
 * 64: flash.wgsl 205–272 ms; unrolled with 1 row an invocation 154 ms, 2 rows 81–99, 4 rows
 * 47–61, 8 rows 38–42, 16 rows 43–45; keys in blocks of 2 or 4 take another 10–25% off. The
 * code grows with rows × keys × dHead and SwiftShader's compile time faster than it: at dHead
 * 64, 4 rows × 2 keys compile in 5.0 s and run in 43–45 ms, 8 × 2 in 12.1 s and 28–35 ms, 8 × 4
 * in 16.6 s; at dHead 16, 8 × 4 compiles in 1.3 s.
 */
export const UNROLLED_FLASH = {
  16: { rows: 8, keyBlock: 4 },
  32: { rows: 8, keyBlock: 2 },
  64: { rows: 4, keyBlock: 2 },
} as const satisfies Record<number, { rows: number; keyBlock: number }>;

/** Queries per workgroup of every fused kernel (flash.wgsl: 64 invocations × 2; flash-fixed.wgsl: 128 / rows × rows). */
export const FUSED_BLOCK_ROWS = 128;

const TILES = ['common.wgsl', 'parts/tiles.wgsl'];
const LANES = ['parts/lanes.wgsl', 'common.wgsl'];
const ROWS = ['parts/rows-params.wgsl'];
const LINEAR_LANES = ['parts/lanes.wgsl', 'parts/rows-params.wgsl'];
const W_ROWS = 'parts/weights-rows.wgsl';
const W_TRANSPOSED = 'parts/weights-transposed.wgsl';
/** The weights' storage part: one f32 per weight. Kernels that list it also come in 16-bit variants ({@link WeightFormat}). */
const W_F32 = 'parts/weights-f32.wgsl';

/**
 * How a kernel's weights are stored on the GPU: 'f32', or the checkpoint's own 16 bits packed two
 * to a u32 ('f16': IEEE binary16, 'bf16': bfloat16), widened exactly in the kernel
 * (shaders/parts/weights-f16.wgsl, weights-bf16.wgsl) with every sum in f32: half the memory, no
 * 'shader-f16' feature needed.
 */
export type WeightFormat = 'f32' | 'f16' | 'bf16';
/** The formats, in order. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'f16', 'bf16'];

/**
 * The block of the workgroup-memory linear kernels (shaders/linear-workgroup.wgsl): GROUP_EDGE ×
 * GROUP_EDGE invocations, each a TILE_ROWS × TILE_COLS register tile, K_STEP inputs staged per
 * barrier; a workgroup covers (GROUP_EDGE·TILE_ROWS) × (GROUP_EDGE·TILE_COLS) outputs.
 */
export const LINEAR_BLOCK = { TILE_ROWS: 4, TILE_COLS: 4, GROUP_EDGE: 16, K_STEP: 16 } as const;

/**
 * Each kernel's recipe. Entry points: `main` everywhere, plus `narrow` (output) and
 * `rowPerInvocation` (softmax). softmaxSubgroup and the lane-tile kernels need the device
 * feature 'subgroups'. The model's forward pass (src/kernels/model.ts) adds Q, K, V with c_attn's
 * bias and the rest of a GPT-2 block.
 */
const KERNELS: Readonly<Record<KernelName, KernelRecipe>> = {
  projections: { before: TILES, file: 'projections.wgsl', after: ['parts/store-projection.wgsl'], sizes: { TILE_ROWS: PROJ_TILE, TILE_COLS: PROJ_TILE } },
  scores: { before: TILES, file: 'scores.wgsl', sizes: { TILE_ROWS: MAP_TILE, TILE_COLS: MAP_TILE } },
  softmax: { before: ['common.wgsl', 'parts/softmax-rows.wgsl'], file: 'softmax.wgsl' },
  softmaxSubgroup: { before: ['parts/subgroups.wgsl', 'common.wgsl', 'parts/softmax-rows.wgsl'], file: 'softmax-subgroup.wgsl' },
  output: {
    before: TILES,
    file: 'output.wgsl',
    sizes: { WIDE_ROWS: MAP_TILE, WIDE_COLS: MAP_TILE, NARROW_ROWS, NARROW_COLS: 4 },
  },
  flash: { before: ['common.wgsl'], file: 'flash.wgsl', after: ['parts/qkv-load.wgsl'] },
  flashReduce: { before: ['common.wgsl'], file: 'flash-reduce.wgsl', after: ['parts/qkv-load.wgsl'] },
  // The fused kernel written out for one head size (tuning `fused: 'unrolled'`): ROWS query rows an invocation, keys in blocks of KB (UNROLLED_FLASH).
  flashD16: { before: ['common.wgsl'], file: 'flash-fixed.wgsl', sizes: { D4: 4, ROWS: UNROLLED_FLASH[16].rows, KB: UNROLLED_FLASH[16].keyBlock } },
  flashD32: { before: ['common.wgsl'], file: 'flash-fixed.wgsl', sizes: { D4: 8, ROWS: UNROLLED_FLASH[32].rows, KB: UNROLLED_FLASH[32].keyBlock } },
  flashD64: { before: ['common.wgsl'], file: 'flash-fixed.wgsl', sizes: { D4: 16, ROWS: UNROLLED_FLASH[64].rows, KB: UNROLLED_FLASH[64].keyBlock } },
  // The reduced map likewise: the query row as D4 named vec4s.
  flashReduceD16: { before: ['common.wgsl'], file: 'flash-reduce-fixed.wgsl', sizes: { D4: 4 } },
  flashReduceD32: { before: ['common.wgsl'], file: 'flash-reduce-fixed.wgsl', sizes: { D4: 8 } },
  flashReduceD64: { before: ['common.wgsl'], file: 'flash-reduce-fixed.wgsl', sizes: { D4: 16 } },
  reduce: { before: [], file: 'reduce.wgsl' },
  projectionsLanes: { before: LANES, file: 'projections-lanes.wgsl', after: ['parts/store-projection.wgsl'], sizes: 'lanes' },
  scoresLanes: { before: LANES, file: 'scores-lanes.wgsl', sizes: 'lanes' },
  outputLanes: { before: LANES, file: 'output-lanes.wgsl', sizes: 'lanes' },
  projectionsBias: { before: TILES, file: 'projections.wgsl', after: ['parts/store-projection-bias.wgsl'], sizes: { TILE_ROWS: PROJ_TILE, TILE_COLS: PROJ_TILE } },
  projectionsLanesBias: { before: LANES, file: 'projections-lanes.wgsl', after: ['parts/store-projection-bias.wgsl'], sizes: 'lanes' },
  embed: { before: [], file: 'embed.wgsl', after: [W_F32] },
  layerNorm: { before: ROWS, file: 'layernorm.wgsl' },
  rmsNorm: { before: ROWS, file: 'rmsnorm.wgsl' },
  rope: { before: [], file: 'rope.wgsl' },
  linear: { before: ROWS, file: 'linear.wgsl', after: [W_ROWS, W_F32, 'parts/finish-bias.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  linearGelu: { before: ROWS, file: 'linear.wgsl', after: [W_ROWS, W_F32, 'parts/finish-gelu.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  linearResidual: { before: ROWS, file: 'linear.wgsl', after: [W_ROWS, W_F32, 'parts/finish-residual.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  logits: { before: ROWS, file: 'linear.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-store.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  linearLanes: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_ROWS, W_F32, 'parts/finish-bias.wgsl'], sizes: 'lanes' },
  linearLanesGelu: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_ROWS, W_F32, 'parts/finish-gelu.wgsl'], sizes: 'lanes' },
  linearLanesResidual: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_ROWS, W_F32, 'parts/finish-residual.wgsl'], sizes: 'lanes' },
  logitsLanes: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-store.wgsl'], sizes: 'lanes' },
  linearWorkgroup: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_ROWS, W_F32, 'parts/finish-bias.wgsl'], sizes: LINEAR_BLOCK },
  linearWorkgroupGelu: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_ROWS, W_F32, 'parts/finish-gelu.wgsl'], sizes: LINEAR_BLOCK },
  linearWorkgroupResidual: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_ROWS, W_F32, 'parts/finish-residual.wgsl'], sizes: LINEAR_BLOCK },
  logitsWorkgroup: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-store.wgsl'], sizes: LINEAR_BLOCK },
  // The Llama family's linear steps: nn.Linear weights ([out, in]), with a bias (zeros where the
  // file has none) or the residual stream added; its SwiGLU and grouped-query re-layout.
  linearT: { before: ROWS, file: 'linear.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-bias.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  linearTResidual: { before: ROWS, file: 'linear.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-residual.wgsl'], sizes: { TILE_ROWS: LINEAR_ROWS } },
  linearLanesT: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-bias.wgsl'], sizes: 'lanes' },
  linearLanesTResidual: { before: LINEAR_LANES, file: 'linear-lanes.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-residual.wgsl'], sizes: 'lanes' },
  linearWorkgroupT: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-bias.wgsl'], sizes: LINEAR_BLOCK },
  linearWorkgroupTResidual: { before: ROWS, file: 'linear-workgroup.wgsl', after: [W_TRANSPOSED, W_F32, 'parts/finish-residual.wgsl'], sizes: LINEAR_BLOCK },
  swiglu: { before: ROWS, file: 'swiglu.wgsl' },
  repeatKv: { before: [], file: 'repeat-kv.wgsl' },
  pairWeights: { before: ['common.wgsl'], file: 'pair-weights.wgsl' },
  qkProjection: { before: [], file: 'qk-projection.wgsl' },
};

/** The lane-tile kernels of the models' linear steps: GPT-2's plain, GELU, residual, logits; the Llama family's bias and residual ([out, in] weights). */
export const LINEAR_LANE_KERNELS = ['linearLanes', 'linearLanesGelu', 'linearLanesResidual', 'logitsLanes', 'linearLanesT', 'linearLanesTResidual'] as const satisfies readonly KernelName[];

/** Every kernel name, in the order of the recipe table. */
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** A kernel name or tile the caller got wrong; the message says what to pass instead. */
export class KernelSourceError extends AttentionError {
  override name = 'KernelSourceError';
}

/** Whether `name` is a lane-tile kernel (its source needs a {@link LaneTile}). */
export function isLaneKernel(name: KernelName): boolean {
  return KERNELS[name]?.sizes === 'lanes';
}

/** Whether kernel `name` reads its weights through a storage part, so it comes in every {@link WeightFormat}. */
export function hasWeightFormats(name: KernelName): boolean {
  return KERNELS[name]?.after?.includes(W_F32) ?? false;
}

/** The label of a kernel variant: `scores`, `scoresLanes 32×32` for a lane tile, `linearT bf16` for 16-bit weights. */
export function variantLabel(name: KernelName, tile?: LaneTile, weights: WeightFormat = 'f32'): string {
  return `${tile ? `${name} ${tile.rows}×${tile.cols}` : name}${weights === 'f32' ? '' : ` ${weights}`}`;
}

/**
 * The WGSL of kernel `name` (for a lane-tile kernel, of `tile`) assembled from `files` (the
 * contents of shaders/ by path there), with the origin of every line.
 */
export function assembleKernel(files: Readonly<Record<string, string>>, name: KernelName, tile?: LaneTile, weights: WeightFormat = 'f32'): ShaderSource {
  const recipe = Object.hasOwn(KERNELS, name) ? KERNELS[name] : undefined;
  if (!recipe) throw new KernelSourceError(`kernelSource: no kernel named ${String(name)}; use one of ${KERNEL_NAMES.join(', ')}.`);
  const lanes = recipe.sizes === 'lanes';
  if (lanes && !tile) throw new KernelSourceError(`kernelSource: ${name} is a lane-tile kernel and needs a tile ({ rows, cols }); pass the tuning's laneTiles entry.`);
  if (!lanes && tile) throw new KernelSourceError(`kernelSource: ${name} takes no lane tile; call it without one.`);
  if (tile) checkLaneTile(tile);
  if (!WEIGHT_FORMATS.includes(weights)) throw new KernelSourceError(`kernelSource: weights ${String(weights)} is no weight format; use one of ${WEIGHT_FORMATS.join(', ')}.`);
  if (weights !== 'f32' && !hasWeightFormats(name)) throw new KernelSourceError(`kernelSource: ${name} reads no weights; call it without a weight format (only the linear kernels and embed take 'f16' or 'bf16').`);
  const after = (recipe.after ?? []).map((file) => (file === W_F32 ? `parts/weights-${weights}.wgsl` : file));
  const sizes = recipe.sizes === 'lanes' ? { TILE_ROWS: tile!.rows, TILE_COLS: tile!.cols } : (recipe.sizes ?? {});
  const read = (file: string) => {
    const text = files[file];
    if (text === undefined) throw new KernelSourceError(`kernelSource: ${name} needs shaders/${file}, which is missing; restore it or fix the recipe in src/kernels/shader-variants.ts.`);
    return { file, text };
  };
  const before = expandWgsl(recipe.before.map(read));
  const own = expandWgsl([read(recipe.file), ...after.map(read)], sizes);
  const declared = sizeDeclarations(sizes);
  // A kernel with no parts before its own file (reduce, embed) starts with its own first line.
  const parts = [...(recipe.before.length > 0 ? [before] : []), ...declared.map((line) => ({ code: line.text, origins: [line.origin] })), own];
  const code = parts.map((part) => part.code).join('\n');
  const origins: LineOrigin[] = parts.flatMap((part) => part.origins);
  return { label: variantLabel(name, tile, weights), code, origins };
}

/** The WGSL constants that declare a kernel's tile sizes (none for a kernel without tiles). */
function sizeDeclarations(sizes: Readonly<Record<string, number>>): Array<{ text: string; origin: LineOrigin }> {
  const entries = Object.entries(sizes);
  if (entries.length === 0) return [];
  const note = 'tile sizes, declared by src/kernels/shader-variants.ts';
  const lines = ['', '// Tile sizes of this variant (src/kernels/shader-variants.ts).', ...entries.map(([name, value]) => `const ${name}: u32 = ${value}u;`)];
  return lines.map((text, index) => ({ text, origin: { file: '(tile sizes)', line: index + 1, note } }));
}

/** One variant of a kernel: the name, for a lane-tile kernel the tile, and for 16-bit weights their format. */
export interface KernelVariant {
  name: KernelName;
  tile?: LaneTile;
  weights?: Exclude<WeightFormat, 'f32'>;
}

/** The kernels the Llama family runs with its checkpoint's 16-bit weights (embedding, and the [out, in] linear steps of each variant). */
const SIXTEEN_BIT_KERNELS: readonly KernelName[] = ['embed', 'linearT', 'linearTResidual', 'logits', 'linearWorkgroupT', 'linearWorkgroupTResidual', 'logitsWorkgroup'];
const SIXTEEN_BIT_LANE_KERNELS: readonly KernelName[] = ['linearLanesT', 'linearLanesTResidual', 'logitsLanes'];

/**
 * Every variant some tuning runs: each kernel without tiles, and each lane-tile kernel for the
 * tiles of the tunings in src/kernels/tuning.ts (the output kernel for every column count
 * outputLaunch picks, from 4 up to the tuning's; the model's linear kernels for the tuning's
 * `linear` lane tile).
 */
export function runningVariants(): KernelVariant[] {
  const variants = new Map<string, KernelVariant>();
  const add = (name: KernelName, tile?: LaneTile, weights: WeightFormat = 'f32') =>
    variants.set(variantLabel(name, tile, weights), { name, ...(tile ? { tile } : {}), ...(weights === 'f32' ? {} : { weights }) });
  for (const name of KERNEL_NAMES) if (!isLaneKernel(name)) add(name);
  for (const weights of ['f16', 'bf16'] as const) for (const name of SIXTEEN_BIT_KERNELS) add(name, undefined, weights);
  for (const tuning of [DEFAULT_TUNING, WORKGROUP_TUNING, SOFTWARE_TUNING, LANE_TUNING]) {
    const lanes = tuning.laneTiles;
    if (!lanes) continue;
    add('projectionsLanes', lanes.projections);
    add('projectionsLanesBias', lanes.projections);
    add('scoresLanes', lanes.scores);
    for (let dHead = 1; dHead <= lanes.output.cols; dHead++) {
      const launch = outputLaunch(dHead, tuning);
      add('outputLanes', { rows: launch.tile[1] / 4, cols: launch.tile[0] });
    }
    if (tuning.linear?.kind === 'lanes') {
      for (const name of LINEAR_LANE_KERNELS) add(name, tuning.linear.tile);
      for (const weights of ['f16', 'bf16'] as const) for (const name of SIXTEEN_BIT_LANE_KERNELS) add(name, tuning.linear.tile, weights);
    }
  }
  return [...variants.values()];
}

/** The path of a variant's written-out WGSL under shaders/: `generated/scores.wgsl`, `generated/scoresLanes.32x32.wgsl`. */
export function generatedPath({ name, tile, weights }: KernelVariant): string {
  return `generated/${name}${tile ? `.${tile.rows}x${tile.cols}` : ''}${weights ? `.${weights}` : ''}.wgsl`;
}

/** The committed text of a variant: a header saying how it was made, then its WGSL. */
export function generatedText(files: Readonly<Record<string, string>>, variant: KernelVariant): string {
  const recipe = KERNELS[variant.name];
  const weights = variant.weights ?? 'f32';
  const sources = [...recipe.before, recipe.file, ...(recipe.after ?? []).map((file) => (file === W_F32 ? `parts/weights-${weights}.wgsl` : file))].map((file) => `shaders/${file}`).join(', ');
  const tileArg = variant.tile ? `{ rows: ${variant.tile.rows}, cols: ${variant.tile.cols} }` : 'undefined';
  const call = variant.weights ? `kernelSource('${variant.name}', ${tileArg}, '${variant.weights}')` : variant.tile ? `kernelSource('${variant.name}', ${tileArg})` : `kernelSource('${variant.name}')`;
  const header = [
    `// GENERATED by \`npm run shaders\` (scripts/gen-shaders.ts): do not edit; edit the sources and rerun it.`,
    `// ${call}: the WGSL the GPU compiles, assembled from ${sources}`,
    `// with every //#unroll written out (src/kernels/shader-variants.ts, src/kernels/unroll.ts).`,
  ];
  return `${header.join('\n')}\n\n${assembleKernel(files, variant.name, variant.tile, weights).code}\n`;
}
