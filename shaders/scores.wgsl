// scores.wgsl — S[h, i, j] = (Q_h[i] · K_h[j]) / sqrt(dHead), −∞ where causal masks j > i.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 scores (read_write,
// heads × seqLen × kvLen). Layout: see common.wgsl.
// Dispatch: (ceil(kvLen / (WG_X·TILE)), ceil(seqLen / (WG_Y·TILE)), heads): all heads at once.
// Each invocation computes a TILE × TILE block (queries strided by WG_Y, keys by WG_X).
// Blocks entirely above the causal diagonal skip the dot products and only write −∞.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let head = group.z;
  let i0 = group.y * WG_Y * TILE + local.y;
  let j0 = group.x * WG_X * TILE + local.x;
  if (i0 >= seqLen || j0 >= kvLen) {
    return;
  }
  let causal = params.causal == 1u;
  let iLast = min(i0 + (TILE - 1u) * WG_Y, seqLen - 1u);
  let mapBase = head * seqLen * kvLen;

  var acc: array<array<f32, TILE>, TILE>;
  // The smallest key of this invocation is j0 and the largest query iLast: if j0 > iLast every
  // cell is masked and no dot product is needed.
  if (!(causal && j0 > iLast)) {
    var qBase: array<u32, TILE>;
    var kBase: array<u32, TILE>;
    for (var t = 0u; t < TILE; t++) {
      qBase[t] = min(i0 + t * WG_Y, seqLen - 1u) * width + head * dHead;
      kBase[t] = params.kOffset + min(j0 + t * WG_X, kvLen - 1u) * width + head * dHead;
    }
    for (var d = 0u; d < dHead; d++) {
      var a: array<f32, TILE>;
      var b: array<f32, TILE>;
      for (var t = 0u; t < TILE; t++) {
        a[t] = qkv[qBase[t] + d];
        b[t] = qkv[kBase[t] + d];
      }
      for (var r = 0u; r < TILE; r++) {
        for (var c = 0u; c < TILE; c++) {
          acc[r][c] = fma(a[r], b[c], acc[r][c]);
        }
      }
    }
  }

  let scale = params.scale;
  for (var r = 0u; r < TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    for (var c = 0u; c < TILE; c++) {
      let j = j0 + c * WG_X;
      if (j < kvLen) {
        var value = acc[r][c] * scale;
        if (causal && j > i) {
          value = negativeInfinity();
        }
        scores[mapBase + i * kvLen + j] = value;
      }
    }
  }
}
