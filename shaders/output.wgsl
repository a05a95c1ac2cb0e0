// output.wgsl — O[i, h·dHead + d] = Σ_j P[h, i, j] · V[j, h·dHead + d]: all heads in one dispatch.
// Assembled after common.wgsl, parts/tiles.wgsl and the tile sizes WIDE_ROWS × WIDE_COLS = 8 × 8,
// NARROW_ROWS × NARROW_COLS = 16 × 4 (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv = q | k | v (read), 2 weights (read,
// heads × seqLen × kvLen), 3 output (read_write, seqLen × width). Layout: see common.wgsl.
// Each invocation computes a register tile (parts/tiles.wgsl) of queries strided by WG_Y and
// head columns strided by WG_X. Under a causal mask the weights past the tile's last query are
// zero, so the sum stops there. Two entry points, the same code for two tile sizes:
// - main: 8 × 8 tiles (16 loads per 64 multiply-adds). Dispatch: (ceil(dHead / (WG_X·8)),
//   ceil(seqLen / (WG_Y·8)), heads).
// - narrow, for small heads (dHead at most half the 8 × 8 tile's width, e.g. 16 or 32): 16 queries
//   × 4 head columns (20 loads per 64 multiply-adds). The host picks WG_X ≈ ceil(dHead / 4) so
//   that no invocation computes only clamped columns, and WG_Y so the workgroup keeps its size.
//   Dispatch: (ceil(dHead / (WG_X·4)), ceil(seqLen / (WG_Y·16)), heads).

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let run = params;
  let head = group.z;
  let row0 = group.y * WG_Y * WIDE_ROWS + local.y;
  let col0 = group.x * WG_X * WIDE_COLS + local.x;
  if (row0 >= run.seqLen || col0 >= run.dHead) {
    return;
  }
  let lastRow = run.seqLen - 1u;
  let lastCol = run.dHead - 1u;
  let lastTileRow = min(row0 + (WIDE_ROWS - 1u) * WG_Y, lastRow);
  //#unroll r < WIDE_ROWS, h < WIDE_COLS / 4: var acc{r}_{h} = vec4<f32>(0.0);
  let keys = visibleKeys(lastTileRow);
  //#unroll r < WIDE_ROWS: let p{r} = (head * run.seqLen + min(row0 + {r}u * WG_Y, lastRow)) * run.kvLen;
  let column = run.vOffset + head * run.dHead;
  //#unroll c < WIDE_COLS: let v{c} = column + min(col0 + {c}u * WG_X, lastCol);
  for (var j = 0u; j < keys; j++) {
    let vRow = j * run.width;
    //#unroll h < WIDE_COLS / 4: let b{h} = vec4<f32>(qkv[v{4 * h} + vRow], qkv[v{4 * h + 1} + vRow], qkv[v{4 * h + 2} + vRow], qkv[v{4 * h + 3} + vRow]);
    //#unroll r < WIDE_ROWS
    let a{r} = vec4<f32>(weights[p{r} + j]);
    //#unroll h < WIDE_COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});
    //#end
  }

  let accs = array<vec4<f32>, WIDE_ROWS * WIDE_COLS / 4u>(
    //#unroll r < WIDE_ROWS, h < WIDE_COLS / 4: acc{r}_{h},
  );
  for (var r = 0u; r < WIDE_ROWS; r++) {
    let row = row0 + r * WG_Y;
    if (row >= run.seqLen) {
      break;
    }
    for (var c = 0u; c < WIDE_COLS; c++) {
      let col = col0 + c * WG_X;
      if (col < run.dHead) {
        let value = accs[WIDE_COLS / 4u * r + c / 4u][c & 3u];
        output[row * run.width + head * run.dHead + col] = value;
      }
    }
  }
}

// The same for NARROW_ROWS × NARROW_COLS tiles.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn narrow(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let run = params;
  let head = group.z;
  let row0 = group.y * WG_Y * NARROW_ROWS + local.y;
  let col0 = group.x * WG_X * NARROW_COLS + local.x;
  if (row0 >= run.seqLen || col0 >= run.dHead) {
    return;
  }
  let lastRow = run.seqLen - 1u;
  let lastCol = run.dHead - 1u;
  let lastTileRow = min(row0 + (NARROW_ROWS - 1u) * WG_Y, lastRow);
  //#unroll r < NARROW_ROWS, h < NARROW_COLS / 4: var acc{r}_{h} = vec4<f32>(0.0);
  let keys = visibleKeys(lastTileRow);
  //#unroll r < NARROW_ROWS: let p{r} = (head * run.seqLen + min(row0 + {r}u * WG_Y, lastRow)) * run.kvLen;
  let column = run.vOffset + head * run.dHead;
  //#unroll c < NARROW_COLS: let v{c} = column + min(col0 + {c}u * WG_X, lastCol);
  for (var j = 0u; j < keys; j++) {
    let vRow = j * run.width;
    //#unroll h < NARROW_COLS / 4: let b{h} = vec4<f32>(qkv[v{4 * h} + vRow], qkv[v{4 * h + 1} + vRow], qkv[v{4 * h + 2} + vRow], qkv[v{4 * h + 3} + vRow]);
    //#unroll r < NARROW_ROWS
    let a{r} = vec4<f32>(weights[p{r} + j]);
    //#unroll h < NARROW_COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});
    //#end
  }

  let accs = array<vec4<f32>, NARROW_ROWS * NARROW_COLS / 4u>(
    //#unroll r < NARROW_ROWS, h < NARROW_COLS / 4: acc{r}_{h},
  );
  for (var r = 0u; r < NARROW_ROWS; r++) {
    let row = row0 + r * WG_Y;
    if (row >= run.seqLen) {
      break;
    }
    for (var c = 0u; c < NARROW_COLS; c++) {
      let col = col0 + c * WG_X;
      if (col < run.dHead) {
        let value = accs[NARROW_COLS / 4u * r + c / 4u][c & 3u];
        output[row * run.width + head * run.dHead + col] = value;
      }
    }
  }
}
