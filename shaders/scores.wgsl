// scores.wgsl — S[h, i, j] = (Q_h[i] · K_h[j]) / sqrt(dHead), −∞ where causal masks j > i.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 scores (read_write,
// heads × seqLen × kvLen). Layout: see common.wgsl.
// Dispatch: (ceil(kvLen / (WG_X·4)), ceil(seqLen / (WG_Y·4)), heads): all heads at once.
// Each invocation computes a 4 × 4 block (queries strided by WG_Y, keys by WG_X). Blocks
// entirely above the causal diagonal skip the dot products and only write −∞.

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
  let lastQuery = seqLen - 1u;
  let lastKey = kvLen - 1u;
  let iLast = min(i0 + 3u * WG_Y, lastQuery);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // The smallest key of this invocation is j0 and the largest query iLast: if j0 > iLast every
  // cell is masked and no dot product is needed.
  if (!(causal && j0 > iLast)) {
    let column = head * dHead;
    let q0 = min(i0, lastQuery) * width + column;
    let q1 = min(i0 + WG_Y, lastQuery) * width + column;
    let q2 = min(i0 + 2u * WG_Y, lastQuery) * width + column;
    let q3 = min(i0 + 3u * WG_Y, lastQuery) * width + column;
    let k0 = params.kOffset + min(j0, lastKey) * width + column;
    let k1 = params.kOffset + min(j0 + WG_X, lastKey) * width + column;
    let k2 = params.kOffset + min(j0 + 2u * WG_X, lastKey) * width + column;
    let k3 = params.kOffset + min(j0 + 3u * WG_X, lastKey) * width + column;
    for (var d = 0u; d < dHead; d++) {
      let b = vec4<f32>(qkv[k0 + d], qkv[k1 + d], qkv[k2 + d], qkv[k3 + d]);
      acc0 = fma(vec4<f32>(qkv[q0 + d]), b, acc0);
      acc1 = fma(vec4<f32>(qkv[q1 + d]), b, acc1);
      acc2 = fma(vec4<f32>(qkv[q2 + d]), b, acc2);
      acc3 = fma(vec4<f32>(qkv[q3 + d]), b, acc3);
    }
  }

  let scale = params.scale;
  let mapBase = head * seqLen * kvLen;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    let acc = accs[r] * scale;
    for (var c = 0u; c < TILE; c++) {
      let j = j0 + c * WG_X;
      if (j < kvLen) {
        var value = acc[c];
        if (causal && j > i) {
          value = negativeInfinity();
        }
        scores[mapBase + i * kvLen + j] = value;
      }
    }
  }
}
