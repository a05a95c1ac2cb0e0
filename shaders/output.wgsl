// output.wgsl — O[i, h·dHead + d] = Σ_j P[h, i, j] · V[j, h·dHead + d]: all heads in one dispatch.
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv = q | k | v (read), 2 weights (read,
// heads × seqLen × kvLen), 3 output (read_write, seqLen × width). Layout: see common.wgsl.
// Each invocation computes a register tile (parts/tiles.wgsl) of queries strided by WG_Y and
// head columns strided by WG_X. Under a causal mask the weights past the tile's last query are
// zero, so the sum stops there. Two entry points, one template:
// - main: 8 × 8 tiles (16 loads per 64 multiply-adds). Dispatch: (ceil(dHead / (WG_X·8)),
//   ceil(seqLen / (WG_Y·8)), heads).
// - narrow, for small heads (dHead at most half the 8 × 8 tile's width, e.g. 16 or 32): 16 queries
//   × 4 head columns (20 loads per 64 multiply-adds). The host picks WG_X ≈ ceil(dHead / 4) so
//   that no invocation computes only clamped columns, and WG_Y so the workgroup keeps its size.
//   Dispatch: (ceil(dHead / (WG_X·4)), ceil(seqLen / (WG_Y·16)), heads).

//#include parts/tiles.wgsl

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

//#each (entry, ROWS, COLS) in (main, {MAP_TILE}, {MAP_TILE}), (narrow, {NARROW_ROWS}, 4)
@compute @workgroup_size(WG_X, WG_Y, 1)
fn {entry}(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let run = params;
  let head = group.z;
  //#let rowEnd = run.seqLen
  //#let colEnd = run.dHead
  //#include parts/tile-start.wgsl
  let keys = visibleKeys(lastTileRow);
  //#each r < ROWS: let p{r} = (head * run.seqLen + min(row0 + {r}u * WG_Y, lastRow)) * run.kvLen;
  let column = run.vOffset + head * run.dHead;
  //#each c < COLS: let v{c} = column + min(col0 + {c}u * WG_X, lastCol);
  //#let rowLoad = weights[p{r} + j]
  //#let colLoad = qkv[v{c} + vRow]
  for (var j = 0u; j < keys; j++) {
    let vRow = j * run.width;
    //#include parts/tile-step.wgsl
  }

  //#let store = output[row * run.width + head * run.dHead + col] = value;
  //#include parts/tile-store.wgsl
}

//#end
