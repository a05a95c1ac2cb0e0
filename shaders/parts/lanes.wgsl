// parts/lanes.wgsl — put first in every lane-tile kernel (scores-lanes.wgsl, output-lanes.wgsl,
// projections-lanes.wgsl), then common.wgsl, then the tile sizes TILE_ROWS and TILE_COLS
// (src/kernels/shader-variants.ts assembles them): the matrix products for adapters whose
// subgroups are 4 lanes wide, CPU implementations of WebGPU such as SwiftShader, where a subgroup is one SIMD register
// and each lane one element of it.
//
// Why other kernels: on such an adapter every storage load is a 4-element gather (with a bounds
// check) that costs far more than a multiply-add, and a barrier costs more still. In the
// register-tile kernels (parts/tiles.wgsl) each invocation loads 8 rows and 8 columns per step,
// and the 4 lanes of a SIMD register load the same row values 4 times over. Here the 4 lanes
// form a team that computes a TILE_ROWS × TILE_COLS block: per step each lane loads TILE_ROWS/4
// row values (rows 4p + lane: a{p}) and TILE_COLS/4 column values (columns lane + 4m: b{m}; no
// value is loaded twice), the row values reach the other lanes with subgroupBroadcast (a
// register shuffle; tile row r is lane r % 4 of load r / 4), and each lane accumulates
// TILE_ROWS × TILE_COLS/4 outputs in named scalars acc{r}_{m}, written out by //#unroll
// (src/kernels/unroll.ts). Per multiply-add that is (1/TILE_COLS + 1/TILE_ROWS) loads instead of
// 1/4 (8 × 8 tiles): about 4× fewer at 32 × 32. One step per loop iteration: unrolled 4 deep it
// ran about 1.5× slower on SwiftShader. No branches either (a CPU implementation runs both sides
// of one under a mask): teams past the edge compute with clamped indices, so every value they
// store is the value the cell's own team stores there.
//
// The tile (multiples of 4) is chosen by the host (src/kernels/tuning.ts). Needs subgroups
// exactly 4 lanes wide and made of consecutive invocations (the host checks the adapter); every
// condition that gates a broadcast is uniform across a team, which the uniformity analysis
// cannot see, hence the diagnostic directive.
enable subgroups;
diagnostic(off, subgroup_uniformity);
