// parts/tiles.wgsl — the start of every register-tile kernel (scores.wgsl, output.wgsl,
// projections.wgsl); their bodies include parts/tile-start.wgsl, parts/tile-step.wgsl (inside
// the loop over the shared dimension) and parts/tile-store.wgsl.
//
// Register tiles: each invocation computes a ROWS × COLS block of a matrix product, rows strided
// by WG_Y and columns by WG_X so that neighbouring invocations touch neighbouring memory
// (coalesced on GPUs). The block lives in named vec4 accumulators acc{r}_{h} (row r, columns
// 4h … 4h + 3), never in private arrays: a CPU implementation (SwiftShader) spills dynamically
// indexed arrays to memory, and every GPU compiler keeps named vec4s in registers. Each step
// loads ROWS + COLS values for ROWS · COLS multiply-adds: scores and output use 8 × 8 (16 loads
// per 64 FMAs; on SwiftShader, where a storage load costs ~10× an FMA whatever the access
// pattern, 8 × 8 ran ~2× faster than 4 × 4), output also 16 × 4 for small heads, projections
// (cheap: O(n·d²)) 4 × 4. Indices past the edge are clamped for loading and the results
// discarded, so any size works without branches in the inner loop.
//
//#include common.wgsl

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
