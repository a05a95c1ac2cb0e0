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

/** Full WGSL source of each attention kernel, ready for `createShaderModule`. */
export const ATTENTION_SHADERS = {
  projections: `${common}\n${projections}`,
  scores: `${common}\n${scores}`,
  softmax: `${common}\n${softmax}`,
  output: `${common}\n${output}`,
  flash: `${common}\n${flash}`,
  flashReduce: `${common}\n${flashReduce}`,
} as const;

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
