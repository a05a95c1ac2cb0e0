// projections.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V for all heads in one dispatch.
//
// Bindings (group 0): 0 params (uniform), 1 src = x | xKV (read), 2 w = wq | wk | wv (read),
// 3 qkv = q | k | v (read_write). Layout: see common.wgsl.
// Dispatch: (ceil(width / (WG_X·4)), ceil(max(seqLen, kvLen) / (WG_Y·4)), 3);
// workgroup z picks the matrix: 0 → Q, 1 → K, 2 → V.
// Each invocation computes a 4 × 4 block of outputs, rows strided by WG_Y and columns by WG_X
// so that neighbouring invocations touch neighbouring memory (coalesced on GPUs). Indices past
// the edge are clamped for loading and the results discarded, so any size works without
// branches in the inner loop.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let which = group.z;
  let width = params.width;
  let dModel = params.dModel;
  let slice = projectionOf(which);
  let rows = slice.rows;
  let srcOffset = slice.srcOffset;
  let dstOffset = slice.dstOffset;
  let row0 = group.y * WG_Y * PROJ_TILE + local.y;
  let col0 = group.x * WG_X * PROJ_TILE + local.x;
  if (row0 >= rows || col0 >= width) {
    return;
  }
  let lastRow = rows - 1u;
  let lastCol = width - 1u;
  let a0 = srcOffset + min(row0, lastRow) * dModel;
  let a1 = srcOffset + min(row0 + WG_Y, lastRow) * dModel;
  let a2 = srcOffset + min(row0 + 2u * WG_Y, lastRow) * dModel;
  let a3 = srcOffset + min(row0 + 3u * WG_Y, lastRow) * dModel;
  let wOffset = which * dModel * width;
  let b0 = wOffset + min(col0, lastCol);
  let b1 = wOffset + min(col0 + WG_X, lastCol);
  let b2 = wOffset + min(col0 + 2u * WG_X, lastCol);
  let b3 = wOffset + min(col0 + 3u * WG_X, lastCol);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var kk = 0u; kk < dModel; kk++) {
    let wRow = kk * width;
    let b = vec4<f32>(w[b0 + wRow], w[b1 + wRow], w[b2 + wRow], w[b3 + wRow]);
    acc0 = fma(vec4<f32>(src[a0 + kk]), b, acc0);
    acc1 = fma(vec4<f32>(src[a1 + kk]), b, acc1);
    acc2 = fma(vec4<f32>(src[a2 + kk]), b, acc2);
    acc3 = fma(vec4<f32>(src[a3 + kk]), b, acc3);
  }

  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < PROJ_TILE; r++) {
    let row = row0 + r * WG_Y;
    if (row >= rows) {
      break;
    }
    let acc = accs[r];
    for (var c = 0u; c < PROJ_TILE; c++) {
      let col = col0 + c * WG_X;
      if (col < width) {
        qkv[dstOffset + row * width + col] = acc[c];
      }
    }
  }
}
