// projections.wgsl — Q = x·W_Q, K = xKV·W_K, V = xKV·W_V for all heads in one dispatch.
//
// Bindings (group 0): 0 params (uniform), 1 src = x | xKV (read), 2 w = wq | wk | wv (read),
// 3 qkv = q | k | v (read_write). Layout: see common.wgsl.
// Dispatch: (ceil(width / (WG_X·TILE)), ceil(max(seqLen, kvLen) / (WG_Y·TILE)), 3);
// workgroup z picks the matrix: 0 → Q, 1 → K, 2 → V.
// Each invocation computes a TILE × TILE block of outputs, rows strided by WG_Y and columns by
// WG_X so that neighbouring invocations touch neighbouring memory (coalesced on GPUs, vector
// lanes on CPU implementations). Indices past the edge are clamped for loading and the
// results discarded, so any size works without branches in the inner loop.

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
  var rows = params.seqLen;
  var srcOffset = 0u;
  var dstOffset = 0u;
  if (which > 0u) {
    rows = params.kvLen;
    srcOffset = params.xKVOffset;
    dstOffset = select(params.vOffset, params.kOffset, which == 1u);
  }
  let wOffset = which * dModel * width;
  let row0 = group.y * WG_Y * TILE + local.y;
  let col0 = group.x * WG_X * TILE + local.x;
  if (row0 >= rows || col0 >= width) {
    return;
  }

  var aBase: array<u32, TILE>;
  var bCol: array<u32, TILE>;
  for (var t = 0u; t < TILE; t++) {
    aBase[t] = srcOffset + min(row0 + t * WG_Y, rows - 1u) * dModel;
    bCol[t] = wOffset + min(col0 + t * WG_X, width - 1u);
  }

  var acc: array<array<f32, TILE>, TILE>;
  for (var kk = 0u; kk < dModel; kk++) {
    var a: array<f32, TILE>;
    var b: array<f32, TILE>;
    for (var t = 0u; t < TILE; t++) {
      a[t] = src[aBase[t] + kk];
      b[t] = w[bCol[t] + kk * width];
    }
    for (var r = 0u; r < TILE; r++) {
      for (var c = 0u; c < TILE; c++) {
        acc[r][c] = fma(a[r], b[c], acc[r][c]);
      }
    }
  }

  for (var r = 0u; r < TILE; r++) {
    let row = row0 + r * WG_Y;
    if (row >= rows) {
      break;
    }
    for (var c = 0u; c < TILE; c++) {
      let col = col0 + c * WG_X;
      if (col < width) {
        qkv[dstOffset + row * width + col] = acc[r][c];
      }
    }
  }
}
