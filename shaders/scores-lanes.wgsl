// scores-lanes.wgsl — S = QKᵀ/√dHead (as scores.wgsl), as a lane-tile kernel (parts/lanes.wgsl:
// teams of 4 lanes, for adapters whose subgroups are 4 lanes wide). Assembled after
// parts/lanes.wgsl, common.wgsl and the tile sizes TILE_ROWS, TILE_COLS (src/kernels/shader-variants.ts).
//
// Bindings as scores.wgsl. Workgroup = 16 teams (4 × 4) of 4 lanes, covering (4·TILE_ROWS)
// queries × (4·TILE_COLS) keys; dispatch (ceil(kvLen / (4·TILE_COLS)), ceil(seqLen /
// (4·TILE_ROWS)), heads). Blocks entirely above the causal diagonal run no steps and store −∞.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let team = index / 4u;
  let run = params;
  let row0 = (group.y * 4u + team / 4u) * TILE_ROWS;
  let col0 = (group.x * 4u + team % 4u) * TILE_COLS;
  let lastRow = run.seqLen - 1u;
  let lastCol = run.kvLen - 1u;
  let lastTileRow = min(row0 + TILE_ROWS - 1u, lastRow);
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: var acc{r}_{m} = 0.0;
  let column = group.z * run.dHead;
  //#unroll p < TILE_ROWS / 4: let ra{p} = min(row0 + lane + {4 * p}u, lastRow) * run.width + column;
  //#unroll m < TILE_COLS / 4: let cb{m} = run.kOffset + min(col0 + lane + {4 * m}u, lastCol) * run.width + column;
  let causal = run.causal == 1u;
  let steps = select(run.dHead, 0u, causal && col0 > lastTileRow && col0 < run.kvLen);
  for (var d = 0u; d < steps; d++) {
    //#unroll p < TILE_ROWS / 4: let a{p} = qkv[ra{p} + d];
    //#unroll m < TILE_COLS / 4: let b{m} = qkv[cb{m} + d];
    //#unroll r < TILE_ROWS
    {
      let x = subgroupBroadcast(a{r / 4}, {r % 4}u);
      //#unroll m < TILE_COLS / 4: acc{r}_{m} = fma(x, b{m}, acc{r}_{m});
    }
    //#end
  }
  let mapBase = group.z * run.seqLen * run.kvLen;
  let masked = negativeInfinity();
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: { let i = min(row0 + {r}u, lastRow); let j = min(col0 + lane + {4 * m}u, lastCol); scores[mapBase + i * run.kvLen + j] = select(acc{r}_{m} * run.scale, masked, causal && j > i); }
}
