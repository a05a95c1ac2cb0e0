/**
 * The WGSL sources of the attention kernels. Each kernel file is prefixed with common.wgsl,
 * which declares the shared `Params` uniform block and the register tile size.
 */
import common from '../../shaders/common.wgsl?raw';
import projections from '../../shaders/projections.wgsl?raw';
import scores from '../../shaders/scores.wgsl?raw';
import softmax from '../../shaders/softmax.wgsl?raw';
import output from '../../shaders/output.wgsl?raw';

/** Full WGSL source of each attention kernel, ready for `createShaderModule`. */
export const ATTENTION_SHADERS = {
  projections: `${common}\n${projections}`,
  scores: `${common}\n${scores}`,
  softmax: `${common}\n${softmax}`,
  output: `${common}\n${output}`,
} as const;

/** Register tile edge used by the matmul-shaped kernels (`TILE` in common.wgsl). */
export const TILE = 4;

/** Byte size of the `Params` uniform block in common.wgsl (12 four-byte fields). */
export const PARAMS_BYTES = 48;
