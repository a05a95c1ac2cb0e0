// scores-lanes.wgsl — S = QKᵀ/√dHead (as scores.wgsl), as a lane-tile kernel (parts/lanes.wgsl:
// teams of 4 lanes, for adapters whose subgroups are 4 lanes wide).
//
// Bindings as scores.wgsl. Workgroup = 16 teams (4 × 4) of 4 lanes, covering (4·TILE_ROWS)
// queries × (4·TILE_COLS) keys; dispatch (ceil(kvLen / (4·TILE_COLS)), ceil(seqLen /
// (4·TILE_ROWS)), heads). Blocks entirely above the causal diagonal run no steps and store −∞.

//#include parts/lanes.wgsl

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let team = index / 4u;
  let run = params;
  //#let teamRow = group.y * 4u + team / 4u
  //#let teamCol = group.x * 4u + team % 4u
  //#let rowEnd = run.seqLen
  //#let colEnd = run.kvLen
  //#include parts/lane-start.wgsl
  let column = group.z * run.dHead;
  //#each p < ROWS / 4: let ra{p} = min(row0 + lane + {4 * p}u, lastRow) * run.width + column;
  //#each m < COLS / 4: let cb{m} = run.kOffset + min(col0 + lane + {4 * m}u, lastCol) * run.width + column;
  //#let rowLoad = qkv[ra{p} + d]
  //#let colLoad = qkv[cb{m} + d]
  let causal = run.causal == 1u;
  let steps = select(run.dHead, 0u, causal && col0 > lastTileRow && col0 < run.kvLen);
  for (var d = 0u; d < steps; d++) {
    //#include parts/lane-step.wgsl
  }
  let mapBase = group.z * run.seqLen * run.kvLen;
  let masked = negativeInfinity();
  //#each r < ROWS, m < COLS / 4: { let i = min(row0 + {r}u, lastRow); let j = min(col0 + lane + {4 * m}u, lastCol); scores[mapBase + i * run.kvLen + j] = select(acc{r}_{m} * run.scale, masked, causal && j > i); }
}
