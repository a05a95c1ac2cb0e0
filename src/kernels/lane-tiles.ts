/**
 * Lane tiles: the block of a matrix product one team of 4 lanes computes in the lane-tile
 * kernels (shaders/parts/lanes.wgsl explains them; src/kernels/shader-variants.ts declares the
 * tile's sizes and writes the kernels out for it).
 */
import { AttentionInputError } from '../core/errors';

export interface LaneTile {
  /** Rows of the block one team computes (a multiple of 4). */
  rows: number;
  /** Columns of the block one team computes (a multiple of 4). */
  cols: number;
}

/** Lanes per team: the subgroup width the lane-tile kernels are written for. */
const LANES = 4;

/** Largest tile edge: a lane holds rows × cols/4 accumulators (1024 at 64 × 64). */
const MAX_EDGE = 64;

/**
 * Throws an {@link AttentionInputError} naming the field (`lane tile rows` or `lane tile cols`)
 * unless both edges are multiples of 4 from 4 to 64.
 */
export function checkLaneTile(tile: LaneTile): void {
  for (const [name, value] of Object.entries({ rows: tile.rows, cols: tile.cols })) {
    if (!Number.isInteger(value) || value < LANES || value % LANES !== 0 || value > MAX_EDGE) {
      throw new AttentionInputError(
        `lane tile ${name}`,
        String(value),
        `a multiple of ${LANES} from ${LANES} to ${MAX_EDGE}; pick such a tile in the tuning's laneTiles (src/kernels/tuning.ts)`,
        'shape',
      );
    }
  }
}
