// projections.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V for all heads in one dispatch.
//
// Bindings (group 0): 0 params (common.wgsl), 1 src = x | xKV (read), 2 w = wq | wk | wv (read),
// 3 qkv = q | k | v (read_write). Layout: see common.wgsl.
// Dispatch: (ceil(width / (WG_X·4)), ceil(max(seqLen, kvLen) / (WG_Y·4)), 3);
// workgroup z picks the matrix: 0 → Q, 1 → K, 2 → V (projectionOf in common.wgsl).
// Each invocation computes a 4 × 4 register tile (parts/tiles.wgsl) of rows strided by WG_Y
// and columns by WG_X.

//#include parts/tiles.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;
//#if BIAS
// With BIAS (kernels projectionsBias, projectionsLanesBias): 4 bias = b_Q | b_K | b_V (read),
// each `width` long, added to Q, K, V before the store (GPT-2's c_attn bias).
@group(0) @binding(4) var<storage, read> bias: array<f32>;
//#end

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let slice = projectionOf(group.z);
  let width = params.width;
  let dModel = params.dModel;
  //#let ROWS = {PROJ_TILE}
  //#let COLS = {PROJ_TILE}
  //#let rowEnd = slice.rows
  //#let colEnd = width
  //#include parts/tile-start.wgsl
  //#each r < ROWS: let xRow{r} = slice.srcOffset + min(row0 + {r}u * WG_Y, lastRow) * dModel;
  //#each c < COLS: let wCol{c} = slice.wOffset + min(col0 + {c}u * WG_X, lastCol);
  //#let rowLoad = src[xRow{r} + kk]
  //#let colLoad = w[wCol{c} + wRow]
  for (var kk = 0u; kk < dModel; kk++) {
    let wRow = kk * width;
    //#include parts/tile-step.wgsl
  }

  //#if BIAS
  //#let store = qkv[slice.dstOffset + row * width + col] = value + bias[group.z * width + col];
  //#include parts/tile-store.wgsl
  //#else
  //#let store = qkv[slice.dstOffset + row * width + col] = value;
  //#include parts/tile-store.wgsl
  //#end
}
