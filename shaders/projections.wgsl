// projections.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V for all heads in one dispatch.
// Assembled after common.wgsl, parts/tiles.wgsl, the store (parts/store-projection.wgsl, or
// parts/store-projection-bias.wgsl for the model) and TILE_ROWS = TILE_COLS = 4 (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 params (common.wgsl), 1 src = x | xKV (read), 2 w = wq | wk | wv (read),
// 3 qkv = q | k | v (read_write), and whatever the store part adds. Layout: see common.wgsl.
// Dispatch: (ceil(width / (WG_X·TILE_COLS)), ceil(max(seqLen, kvLen) / (WG_Y·TILE_ROWS)), 3);
// workgroup z picks the matrix: 0 → Q, 1 → K, 2 → V (projectionOf in common.wgsl).
// Each invocation computes a register tile (parts/tiles.wgsl) of rows strided by WG_Y and
// columns by WG_X.

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let slice = projectionOf(group.z);
  let width = params.width;
  let dModel = params.dModel;
  let row0 = group.y * WG_Y * TILE_ROWS + local.y;
  let col0 = group.x * WG_X * TILE_COLS + local.x;
  if (row0 >= slice.rows || col0 >= width) {
    return;
  }
  let lastRow = slice.rows - 1u;
  let lastCol = width - 1u;
  let lastTileRow = min(row0 + (TILE_ROWS - 1u) * WG_Y, lastRow);
  //#unroll r < TILE_ROWS, h < TILE_COLS / 4: var acc{r}_{h} = vec4<f32>(0.0);
  //#unroll r < TILE_ROWS: let xRow{r} = slice.srcOffset + min(row0 + {r}u * WG_Y, lastRow) * dModel;
  //#unroll c < TILE_COLS: let wCol{c} = slice.wOffset + min(col0 + {c}u * WG_X, lastCol);
  for (var kk = 0u; kk < dModel; kk++) {
    let wRow = kk * width;
    //#unroll h < TILE_COLS / 4: let b{h} = vec4<f32>(w[wCol{4 * h} + wRow], w[wCol{4 * h + 1} + wRow], w[wCol{4 * h + 2} + wRow], w[wCol{4 * h + 3} + wRow]);
    //#unroll r < TILE_ROWS
    let a{r} = vec4<f32>(src[xRow{r} + kk]);
    //#unroll h < TILE_COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});
    //#end
  }

  let accs = array<vec4<f32>, TILE_ROWS * TILE_COLS / 4u>(
    //#unroll r < TILE_ROWS, h < TILE_COLS / 4: acc{r}_{h},
  );
  for (var r = 0u; r < TILE_ROWS; r++) {
    let row = row0 + r * WG_Y;
    if (row >= slice.rows) {
      break;
    }
    for (var c = 0u; c < TILE_COLS; c++) {
      let col = col0 + c * WG_X;
      if (col < width) {
        let value = accs[TILE_COLS / 4u * r + c / 4u][c & 3u];
        storeProjection(slice.dstOffset + row * width + col, group.z * width + col, value);
      }
    }
  }
}
