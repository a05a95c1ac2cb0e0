// projections-lanes.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V (as projections.wgsl), as a
// lane-tile kernel (parts/lanes.wgsl: teams of 4 lanes, for adapters whose subgroups are 4 lanes
// wide). Assembled after parts/lanes.wgsl, common.wgsl, the tile sizes TILE_ROWS, TILE_COLS
// (src/kernels/shader-variants.ts) and before the store (parts/store-projection.wgsl, or
// parts/store-projection-bias.wgsl for the model).
//
// A team computes TILE_ROWS rows × TILE_COLS columns of one of Q, K, V: per step each lane loads
// TILE_ROWS/4 inputs and TILE_COLS/4 weights. Bindings as projections.wgsl. Workgroup = 4 teams
// stacked along the rows; dispatch (ceil(width / TILE_COLS), ceil(max(seqLen, kvLen) /
// (4·TILE_ROWS)), 3), workgroup z picks the matrix (0 Q, 1 K, 2 V).

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;

@compute @workgroup_size(16, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let slice = projectionOf(group.z);
  let width = params.width;
  let dModel = params.dModel;
  let row0 = (group.y * 4u + index / 4u) * TILE_ROWS;
  let col0 = group.x * TILE_COLS;
  let lastRow = slice.rows - 1u;
  let lastCol = width - 1u;
  let lastTileRow = min(row0 + TILE_ROWS - 1u, lastRow);
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: var acc{r}_{m} = 0.0;
  //#unroll p < TILE_ROWS / 4: let ra{p} = slice.srcOffset + min(row0 + lane + {4 * p}u, lastRow) * dModel;
  //#unroll m < TILE_COLS / 4: let cb{m} = slice.wOffset + min(col0 + lane + {4 * m}u, lastCol);
  for (var d = 0u; d < dModel; d++) {
    //#unroll p < TILE_ROWS / 4: let a{p} = src[ra{p} + d];
    //#unroll m < TILE_COLS / 4: let b{m} = w[cb{m} + d * width];
    //#unroll r < TILE_ROWS
    {
      let x = subgroupBroadcast(a{r / 4}, {r % 4}u);
      //#unroll m < TILE_COLS / 4: acc{r}_{m} = fma(x, b{m}, acc{r}_{m});
    }
    //#end
  }
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: { let i = min(row0 + {r}u, lastRow); let c = min(col0 + lane + {4 * m}u, lastCol); storeProjection(slice.dstOffset + i * width + c, group.z * width + c, acc{r}_{m}); }
}
