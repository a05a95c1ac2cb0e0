// projections-lanes.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V (as projections.wgsl) for
// adapters whose subgroups are 4 lanes wide (SwiftShader and other CPU implementations); see
// scores-lanes.wgsl for the why and for the `//#` template lines (src/kernels/lane-tiles.ts).
//
// A team of 4 lanes computes TILE_ROWS rows × TILE_COLS columns of one of Q, K, V: per step
// each lane loads TILE_ROWS/4 inputs (rows lane, lane+4, …) and TILE_COLS/4 weights (columns
// lane, lane+4, …); the inputs reach the other lanes by subgroupBroadcast.
// Workgroup = 4 teams stacked along the rows; dispatch (ceil(width / TILE_COLS),
// ceil(max(seqLen, kvLen) / (4·TILE_ROWS)), 3), workgroup z picks the matrix (0 Q, 1 K, 2 V).

enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;

@compute @workgroup_size(16, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let which = group.z;
  let width = params.width;
  let dModel = params.dModel;
  let slice = projectionOf(which);
  let rows = slice.rows;
  let srcOffset = slice.srcOffset;
  let dstOffset = slice.dstOffset;
  let row0 = (group.y * 4u + index / 4u) * TILE_ROWS;
  let col0 = group.x * TILE_COLS;
  let lastRow = rows - 1u;
  let lastCol = width - 1u;
  let wOffset = which * dModel * width;
  //#each-row let ra{p} = srcOffset + min(row0 + lane + {4p}u, lastRow) * dModel;
  //#each-col let cb{m} = wOffset + min(col0 + lane + {4m}u, lastCol);
  //#each-cell var {acc} = 0.0;
  //#row-load src[ra{p} + d + {u}u]
  //#col-load w[cb{m} + (d + {u}u) * width]
  // No branches (a CPU implementation runs both sides of one under a mask): teams past the
  // edge compute with clamped indices, so every value they store is the value the cell's own
  // team stores there.
  for (var d = 0u; d < dModel; d++) {
    //#step 1
  }
  //#each-cell { let i = min(row0 + {r}u, lastRow); let c = min(col0 + lane + {4m}u, lastCol); qkv[dstOffset + i * width + c] = {acc}; }
}
