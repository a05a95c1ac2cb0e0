// projections-lanes.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V (as projections.wgsl), as a
// lane-tile kernel (parts/lanes.wgsl: teams of 4 lanes, for adapters whose subgroups are 4 lanes
// wide).
//
// A team computes TILE_ROWS rows × TILE_COLS columns of one of Q, K, V: per step each lane loads
// TILE_ROWS/4 inputs and TILE_COLS/4 weights. Bindings as projections.wgsl. Workgroup = 4 teams
// stacked along the rows; dispatch (ceil(width / TILE_COLS), ceil(max(seqLen, kvLen) /
// (4·TILE_ROWS)), 3), workgroup z picks the matrix (0 Q, 1 K, 2 V).

//#include parts/lanes.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;
//#if BIAS
// With BIAS (kernels projectionsBias, projectionsLanesBias): 4 bias = b_Q | b_K | b_V (read),
// each `width` long, added to Q, K, V before the store (GPT-2's c_attn bias).
@group(0) @binding(4) var<storage, read> bias: array<f32>;
//#end

@compute @workgroup_size(16, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let slice = projectionOf(group.z);
  let width = params.width;
  let dModel = params.dModel;
  //#let teamRow = group.y * 4u + index / 4u
  //#let teamCol = group.x
  //#let rowEnd = slice.rows
  //#let colEnd = width
  //#include parts/lane-start.wgsl
  //#each p < ROWS / 4: let ra{p} = slice.srcOffset + min(row0 + lane + {4 * p}u, lastRow) * dModel;
  //#each m < COLS / 4: let cb{m} = slice.wOffset + min(col0 + lane + {4 * m}u, lastCol);
  //#let rowLoad = src[ra{p} + d]
  //#let colLoad = w[cb{m} + d * width]
  for (var d = 0u; d < dModel; d++) {
    //#include parts/lane-step.wgsl
  }
  //#if BIAS
  //#each r < ROWS, m < COLS / 4: { let i = min(row0 + {r}u, lastRow); let c = min(col0 + lane + {4 * m}u, lastCol); qkv[slice.dstOffset + i * width + c] = acc{r}_{m} + bias[group.z * width + c]; }
  //#else
  //#each r < ROWS, m < COLS / 4: { let i = min(row0 + {r}u, lastRow); let c = min(col0 + lane + {4 * m}u, lastCol); qkv[slice.dstOffset + i * width + c] = acc{r}_{m}; }
  //#end
}
