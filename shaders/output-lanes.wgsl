// output-lanes.wgsl — O = P·V per head (as output.wgsl), as a lane-tile kernel
// (parts/lanes.wgsl: teams of 4 lanes, for adapters whose subgroups are 4 lanes wide). Assembled
// after parts/lanes.wgsl, common.wgsl and the tile sizes TILE_ROWS, TILE_COLS (src/kernels/shader-variants.ts).
//
// A team computes TILE_ROWS queries × TILE_COLS head columns: per key j each lane loads
// TILE_ROWS/4 weights and TILE_COLS/4 values of V. Bindings as output.wgsl. Workgroup = 4 teams
// stacked along the queries (4·TILE_ROWS queries × TILE_COLS columns); dispatch
// (ceil(dHead / TILE_COLS), ceil(seqLen / (4·TILE_ROWS)), heads). Under a causal mask the
// weights past the team's last query are zero, so the sum stops there (a team past the edge may
// sum more keys than the cell's owner; those weights are exactly 0).

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(16, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let run = params;
  let row0 = (group.y * 4u + index / 4u) * TILE_ROWS;
  let col0 = group.x * TILE_COLS;
  let lastRow = run.seqLen - 1u;
  let lastCol = run.dHead - 1u;
  let lastTileRow = min(row0 + TILE_ROWS - 1u, lastRow);
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: var acc{r}_{m} = 0.0;
  let keys = visibleKeys(lastTileRow);
  let vBase = run.vOffset + group.z * run.dHead;
  //#unroll p < TILE_ROWS / 4: let ra{p} = (group.z * run.seqLen + min(row0 + lane + {4 * p}u, lastRow)) * run.kvLen;
  //#unroll m < TILE_COLS / 4: let cb{m} = vBase + min(col0 + lane + {4 * m}u, lastCol);
  for (var j = 0u; j < keys; j++) {
    //#unroll p < TILE_ROWS / 4: let a{p} = weights[ra{p} + j];
    //#unroll m < TILE_COLS / 4: let b{m} = qkv[cb{m} + j * run.width];
    //#unroll r < TILE_ROWS
    {
      let x = subgroupBroadcast(a{r / 4}, {r % 4}u);
      //#unroll m < TILE_COLS / 4: acc{r}_{m} = fma(x, b{m}, acc{r}_{m});
    }
    //#end
  }
  let outBase = group.z * run.dHead;
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: { let i = min(row0 + {r}u, lastRow); let c = min(col0 + lane + {4 * m}u, lastCol); output[i * run.width + outBase + c] = acc{r}_{m}; }
}
