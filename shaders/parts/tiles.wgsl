// parts/tiles.wgsl — put after common.wgsl in every register-tile kernel (scores.wgsl,
// output.wgsl, projections.wgsl; src/kernels/shader-variants.ts assembles them).
//
// Register tiles: each invocation computes a TILE_ROWS × TILE_COLS block of a matrix product,
// rows strided by WG_Y and columns by WG_X so that neighbouring invocations touch neighbouring
// memory (coalesced on GPUs). The block lives in named vec4 accumulators acc{r}_{h} (row r,
// columns 4h … 4h + 3), written out by //#unroll (src/kernels/unroll.ts), never in private
// arrays: a CPU implementation (SwiftShader) spills dynamically indexed arrays to memory, and
// every GPU compiler keeps named vec4s in registers. Each step loads TILE_ROWS + TILE_COLS values
// for TILE_ROWS · TILE_COLS multiply-adds: the column operands four to a vec4 (b{h}), each row
// operand splat over a vec4 that multiplies every b{h} of its row. scores and output use 8 × 8
// (16 loads per 64 FMAs; on SwiftShader, where a storage load costs ~10× an FMA whatever the
// access pattern, 8 × 8 ran ~2× faster than 4 × 4), output also 16 × 4 for small heads,
// projections (cheap: O(n·d²)) 4 × 4. Indices past the edge are clamped for loading and the
// results discarded, so any size works without branches in the inner loop. At the end the
// accumulators go into one array so that a plain loop stores the cells inside the matrix.
//
// The tile sizes are WGSL constants (TILE_ROWS, TILE_COLS, or per entry point in output.wgsl)
// that src/kernels/shader-variants.ts declares from src/kernels/launch.ts, which sizes the dispatches.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
