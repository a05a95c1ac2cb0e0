// output-lanes.wgsl — O = P·V per head (as output.wgsl) for adapters whose subgroups are 4
// lanes wide (SwiftShader and other CPU implementations); see scores-lanes.wgsl for the why
// and for the `//#` template lines, which src/kernels/lane-tiles.ts expands.
//
// A team of 4 lanes computes TILE_ROWS queries × TILE_COLS head columns: per key j each lane
// loads TILE_ROWS/4 weights (rows lane, lane+4, …) and TILE_COLS/4 values of V (columns lane,
// lane+4, …); the weights reach the other lanes by subgroupBroadcast.
// Workgroup = 4 teams stacked along the queries (4·TILE_ROWS queries × TILE_COLS columns);
// dispatch (ceil(dHead / TILE_COLS), ceil(seqLen / (4·TILE_ROWS)), heads). Under a causal mask
// the weights past the team's last query are zero, so the sum stops there.

enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(16, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let head = group.z;
  let row0 = (group.y * 4u + index / 4u) * TILE_ROWS;
  let col0 = group.x * TILE_COLS;
  let lastQuery = seqLen - 1u;
  let lastCol = dHead - 1u;
  let rowLast = min(row0 + TILE_ROWS - 1u, lastQuery);
  var keys = kvLen;
  if (params.causal == 1u) {
    keys = min(kvLen, rowLast + 1u);
  }
  let vBase = params.vOffset + head * dHead;
  //#each-row let ra{p} = (head * seqLen + min(row0 + lane + {4p}u, lastQuery)) * kvLen;
  //#each-col let cb{m} = vBase + min(col0 + lane + {4m}u, lastCol);
  //#each-cell var {acc} = 0.0;
  //#row-load weights[ra{p} + j + {u}u]
  //#col-load qkv[cb{m} + (j + {u}u) * width]
  // No branches (a CPU implementation runs both sides of one under a mask): teams past the
  // edge compute with clamped indices, so every value they store is the value the cell's own
  // team stores there (a team may sum more keys than the owner; those weights are exactly 0).
  for (var j = 0u; j < keys; j++) {
    //#step 1
  }
  let outBase = head * dHead;
  //#each-cell { let i = min(row0 + {r}u, lastQuery); let c = min(col0 + lane + {4m}u, lastCol); output[i * width + outBase + c] = {acc}; }
}
