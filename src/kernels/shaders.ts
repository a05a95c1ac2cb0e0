/**
 * The WGSL sources of the attention kernels. Each kernel file is prefixed with common.wgsl,
 * which declares the shared `Params` uniform block and the register tile size.
 */
import common from '../../shaders/common.wgsl?raw';
import projections from '../../shaders/projections.wgsl?raw';
import scores from '../../shaders/scores.wgsl?raw';
import softmax from '../../shaders/softmax.wgsl?raw';
import output from '../../shaders/output.wgsl?raw';
import flash from '../../shaders/flash.wgsl?raw';
import flashReduce from '../../shaders/flash-reduce.wgsl?raw';
import softmaxSubgroup from '../../shaders/softmax-subgroup.wgsl?raw';
import projectionsLanes from '../../shaders/projections-lanes.wgsl?raw';
import scoresLanes from '../../shaders/scores-lanes.wgsl?raw';
import outputLanes from '../../shaders/output-lanes.wgsl?raw';
import { expandLaneTemplate, type LaneTile } from './lane-tiles';

/**
 * Prefix a kernel with common.wgsl. Directives (`enable …;`, `requires …;`, `diagnostic(…);`)
 * must precede every declaration in a module, so a kernel's own directive lines are hoisted
 * above common.wgsl (and left as blank lines in place, keeping the kernel's line count).
 */
function withCommon(kernel: string): string {
  const directive = /^\s*(enable|requires|diagnostic)\b[^;]*;\s*$/;
  const lines = kernel.split('\n');
  const hoisted = lines.filter((line) => directive.test(line));
  const body = lines.map((line) => (directive.test(line) ? '' : line)).join('\n');
  return hoisted.length > 0 ? `${hoisted.join('\n')}\n${common}\n${body}` : `${common}\n${body}`;
}

/** Full WGSL source of each attention kernel, ready for `createShaderModule`. */
export const ATTENTION_SHADERS = {
  projections: `${common}\n${projections}`,
  scores: `${common}\n${scores}`,
  softmax: `${common}\n${softmax}`,
  output: `${common}\n${output}`,
  flash: `${common}\n${flash}`,
  flashReduce: `${common}\n${flashReduce}`,
  /** Needs the 'subgroups' feature (`enable subgroups;`): compile only where the device has it. */
  softmaxSubgroup: withCommon(softmaxSubgroup),
} as const;

/**
 * The lane-tile kernels (4-lane subgroups, software adapters), expanded for a tile size. Need
 * the 'subgroups' feature.
 */
export const LANE_SHADERS = {
  projections: (tile: LaneTile) => withCommon(expandLaneTemplate(projectionsLanes, tile)),
  scores: (tile: LaneTile) => withCommon(expandLaneTemplate(scoresLanes, tile)),
  output: (tile: LaneTile) => withCommon(expandLaneTemplate(outputLanes, tile)),
} as const;

/** The template file of each lane-tile kernel, for error messages. */
export const LANE_SHADER_FILES: Record<keyof typeof LANE_SHADERS, string> = {
  projections: 'projections-lanes.wgsl',
  scores: 'scores-lanes.wgsl',
  output: 'output-lanes.wgsl',
};

/** The file each kernel of {@link ATTENTION_SHADERS} comes from, for error messages. */
export const ATTENTION_SHADER_FILES: Record<keyof typeof ATTENTION_SHADERS, string> = {
  projections: 'projections.wgsl',
  scores: 'scores.wgsl',
  softmax: 'softmax.wgsl',
  output: 'output.wgsl',
  flash: 'flash.wgsl',
  flashReduce: 'flash-reduce.wgsl',
  softmaxSubgroup: 'softmax-subgroup.wgsl',
};

/** Register tile edge of the projections kernel (`PROJ_TILE` in common.wgsl). */
export const PROJ_TILE = 4;

/** Register tile edge of the scores and output kernels (`MAP_TILE` in common.wgsl). */
export const MAP_TILE = 8;

/** Queries per invocation of the output kernel's narrow variant (`NARROW_ROWS` in common.wgsl). */
export const NARROW_ROWS = 16;

/** @deprecated Use {@link PROJ_TILE} or {@link MAP_TILE}; kept for existing imports. */
export const TILE = PROJ_TILE;

/** Byte size of the `Params` uniform block in common.wgsl (12 four-byte fields). */
export const PARAMS_BYTES = 48;
