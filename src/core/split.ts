/**
 * How a weight matrix larger than one storage binding is held in several: split by rows, each
 * piece in a buffer of its own. The GPU forward (src/kernels/llama-model.ts) splits the token
 * embedding and lm_head so; the memory check (src/pretrained/memory.ts) counts the same pieces.
 * Pure.
 */

/** How a weight matrix is stored: one f32 per value, or 16 bits packed two to a u32. */
export type StoredFormat = 'f32' | 'f16' | 'bf16';

/** The bytes of a buffer holding `values` values in `format` (padded to 16 bytes, as every upload is). */
export function storedBytes(values: number, format: StoredFormat): number {
  const raw = format === 'f32' ? values * 4 : Math.ceil(values / 2) * 4;
  return Math.max(16, Math.ceil(raw / 16) * 16);
}

/**
 * How many rows of `cols` values go in each piece of a [rows, cols] weight stored in `format` so
 * that no piece passes `budget` bytes: all of them when the whole fits, else the most that fit
 * (the last piece holds the rest); 0 when not even one row does.
 */
export function rowsPerPiece(rows: number, cols: number, format: StoredFormat, budget: number): number {
  if (storedBytes(rows * cols, format) <= budget) return rows;
  let per = Math.min(rows, Math.floor(budget / (cols * (format === 'f32' ? 4 : 2))));
  while (per > 0 && storedBytes(per * cols, format) > budget) per--;
  return per;
}

/** How many pieces a [rows, cols] weight takes at `budget` bytes a binding (0 when a row does not fit). */
export function piecesOf(rows: number, cols: number, format: StoredFormat, budget: number): number {
  const per = rowsPerPiece(rows, cols, format, budget);
  return per === 0 ? 0 : Math.ceil(rows / per);
}
