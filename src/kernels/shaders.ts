/**
 * The WGSL of every kernel, expanded from the templates in shaders/ (src/kernels/templates.ts
 * describes the directives) with the origin of every line, ready for `getKernel`.
 *
 * Kernels include shaders/common.wgsl (the `Params` block and shared helpers) themselves, after
 * any `enable` directive, so no reordering happens here; the parts under shaders/parts/ are
 * included where a template names them.
 */
import type { ShaderSource } from '../gpu/pipeline';
import { checkLaneTile, type LaneTile } from './lane-tiles';
import { LINEAR_COLS, LINEAR_ROWS, MAP_TILE, NARROW_ROWS, PROJ_TILE } from './launch';
import { expandTemplate, type TemplateValue } from './templates';

const raw = import.meta.glob<string>('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true });

/** Every file of shaders/, by its path there (`scores.wgsl`, `parts/tile-step.wgsl`). */
export const SHADER_FILES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(raw).map(([path, text]) => [path.replace(/^.*\/shaders\//, ''), text]),
);

export type KernelName =
  | 'projections'
  | 'scores'
  | 'softmax'
  | 'softmaxSubgroup'
  | 'output'
  | 'flash'
  | 'flashReduce'
  | 'reduce'
  | 'projectionsLanes'
  | 'scoresLanes'
  | 'outputLanes'
  | 'projectionsBias'
  | 'projectionsLanesBias'
  | 'embed'
  | 'layerNorm'
  | 'linear'
  | 'linearGelu'
  | 'linearResidual'
  | 'logits';

interface KernelTemplate {
  file: string;
  /** A lane-tile kernel: expanded for a {@link LaneTile} (template variables ROWS, COLS). */
  lanes?: true;
  vars?: Readonly<Record<string, TemplateValue>>;
}

/**
 * The template of each kernel. Entry points: `main` everywhere, plus `narrow` (output) and
 * `rowPerInvocation` (softmax). softmax and softmaxSubgroup are one template; the second needs
 * the device feature 'subgroups', as do the lane-tile kernels.
 */
const KERNELS: Readonly<Record<KernelName, KernelTemplate>> = {
  projections: { file: 'projections.wgsl', vars: { BIAS: 0 } },
  scores: { file: 'scores.wgsl' },
  softmax: { file: 'softmax.wgsl', vars: { SUBGROUPS: 0 } },
  softmaxSubgroup: { file: 'softmax.wgsl', vars: { SUBGROUPS: 1 } },
  output: { file: 'output.wgsl' },
  flash: { file: 'flash.wgsl' },
  flashReduce: { file: 'flash-reduce.wgsl' },
  reduce: { file: 'reduce.wgsl' },
  projectionsLanes: { file: 'projections-lanes.wgsl', lanes: true, vars: { BIAS: 0 } },
  scoresLanes: { file: 'scores-lanes.wgsl', lanes: true },
  outputLanes: { file: 'output-lanes.wgsl', lanes: true },
  // The model's forward pass (src/kernels/model.ts): Q, K, V with c_attn's bias, and the rest
  // of a GPT-2 block.
  projectionsBias: { file: 'projections.wgsl', vars: { BIAS: 1 } },
  projectionsLanesBias: { file: 'projections-lanes.wgsl', lanes: true, vars: { BIAS: 1 } },
  embed: { file: 'embed.wgsl' },
  layerNorm: { file: 'layernorm.wgsl' },
  linear: { file: 'linear.wgsl', vars: { BIAS: 1, GELU: 0, RESIDUAL: 0, TRANSPOSED: 0 } },
  linearGelu: { file: 'linear.wgsl', vars: { BIAS: 1, GELU: 1, RESIDUAL: 0, TRANSPOSED: 0 } },
  linearResidual: { file: 'linear.wgsl', vars: { BIAS: 1, GELU: 0, RESIDUAL: 1, TRANSPOSED: 0 } },
  logits: { file: 'linear.wgsl', vars: { BIAS: 0, GELU: 0, RESIDUAL: 0, TRANSPOSED: 1 } },
};

/** Variables every template sees: the register tile sizes the host sizes dispatches by. */
const TILE_VARS: Readonly<Record<string, TemplateValue>> = { PROJ_TILE, MAP_TILE, NARROW_ROWS, LINEAR_ROWS, LINEAR_COLS };

const expanded = new Map<string, ShaderSource>();

/**
 * The WGSL of kernel `name` with the origin of every line; `tile` is required for the lane-tile
 * kernels (`*Lanes`) and refused for the others. Expanded once per kernel and tile.
 */
export function kernelSource(name: KernelName, tile?: LaneTile): ShaderSource {
  const template = KERNELS[name];
  if (!template) throw new Error(`kernelSource: no kernel named ${String(name)}.`);
  if (template.lanes && !tile) throw new Error(`kernelSource: ${name} is a lane-tile kernel and needs a tile ({ rows, cols }).`);
  if (!template.lanes && tile) throw new Error(`kernelSource: ${name} takes no lane tile.`);
  if (tile) checkLaneTile(tile);
  const label = tile ? `${name} ${tile.rows}×${tile.cols}` : name;
  let source = expanded.get(label);
  if (!source) {
    const vars = { ...TILE_VARS, ...template.vars, ...(tile ? { ROWS: tile.rows, COLS: tile.cols } : {}) };
    source = { label, ...expandTemplate(template.file, { files: SHADER_FILES, vars }) };
    expanded.set(label, source);
  }
  return source;
}
