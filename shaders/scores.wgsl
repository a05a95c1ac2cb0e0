// scores.wgsl — S[h, i, j] = (Q_h[i] · K_h[j]) / sqrt(dHead), −∞ where causal masks j > i.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 scores (read_write,
// heads × seqLen × kvLen). Layout: see common.wgsl.
// Dispatch: (ceil(kvLen / (WG_X·8)), ceil(seqLen / (WG_Y·8)), heads): all heads at once.
// Each invocation computes an 8 × 8 block (queries strided by WG_Y, keys by WG_X, so
// neighbouring invocations read neighbouring keys), held as sixteen named vec4 accumulators.
// Why 8 × 8: each step of the dot product loads 16 values for 64 multiply-adds. On CPU
// implementations (SwiftShader) a storage load costs ~10× an FMA whatever the access pattern,
// so the load/FMA ratio sets the speed (8 × 8 ran ~2× faster than 4 × 4 there); on GPUs it
// is the classic register tile. Blocks entirely above the causal diagonal skip the dot
// products and only write −∞.

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
  let i0 = group.y * WG_Y * MAP_TILE + local.y;
  let j0 = group.x * WG_X * MAP_TILE + local.x;
  if (i0 >= seqLen || j0 >= kvLen) {
    return;
  }
  let causal = params.causal == 1u;
  let lastQuery = seqLen - 1u;
  let lastKey = kvLen - 1u;
  let iLast = min(i0 + (MAP_TILE - 1u) * WG_Y, lastQuery);
  var acc0a = vec4<f32>(0.0);
  var acc0b = vec4<f32>(0.0);
  var acc1a = vec4<f32>(0.0);
  var acc1b = vec4<f32>(0.0);
  var acc2a = vec4<f32>(0.0);
  var acc2b = vec4<f32>(0.0);
  var acc3a = vec4<f32>(0.0);
  var acc3b = vec4<f32>(0.0);
  var acc4a = vec4<f32>(0.0);
  var acc4b = vec4<f32>(0.0);
  var acc5a = vec4<f32>(0.0);
  var acc5b = vec4<f32>(0.0);
  var acc6a = vec4<f32>(0.0);
  var acc6b = vec4<f32>(0.0);
  var acc7a = vec4<f32>(0.0);
  var acc7b = vec4<f32>(0.0);
  // The smallest key of this invocation is j0 and the largest query iLast: if j0 > iLast every
  // cell is masked and no dot product is needed.
  if (!(causal && j0 > iLast)) {
    let column = head * dHead;
    let q0 = min(i0 + 0u * WG_Y, lastQuery) * width + column;
    let q1 = min(i0 + 1u * WG_Y, lastQuery) * width + column;
    let q2 = min(i0 + 2u * WG_Y, lastQuery) * width + column;
    let q3 = min(i0 + 3u * WG_Y, lastQuery) * width + column;
    let q4 = min(i0 + 4u * WG_Y, lastQuery) * width + column;
    let q5 = min(i0 + 5u * WG_Y, lastQuery) * width + column;
    let q6 = min(i0 + 6u * WG_Y, lastQuery) * width + column;
    let q7 = min(i0 + 7u * WG_Y, lastQuery) * width + column;
    let k0 = params.kOffset + min(j0 + 0u * WG_X, lastKey) * width + column;
    let k1 = params.kOffset + min(j0 + 1u * WG_X, lastKey) * width + column;
    let k2 = params.kOffset + min(j0 + 2u * WG_X, lastKey) * width + column;
    let k3 = params.kOffset + min(j0 + 3u * WG_X, lastKey) * width + column;
    let k4 = params.kOffset + min(j0 + 4u * WG_X, lastKey) * width + column;
    let k5 = params.kOffset + min(j0 + 5u * WG_X, lastKey) * width + column;
    let k6 = params.kOffset + min(j0 + 6u * WG_X, lastKey) * width + column;
    let k7 = params.kOffset + min(j0 + 7u * WG_X, lastKey) * width + column;
    for (var d = 0u; d < dHead; d++) {
      let ba = vec4<f32>(qkv[k0 + d], qkv[k1 + d], qkv[k2 + d], qkv[k3 + d]);
      let bb = vec4<f32>(qkv[k4 + d], qkv[k5 + d], qkv[k6 + d], qkv[k7 + d]);
      let a0 = vec4<f32>(qkv[q0 + d]);
      acc0a = fma(a0, ba, acc0a);
      acc0b = fma(a0, bb, acc0b);
      let a1 = vec4<f32>(qkv[q1 + d]);
      acc1a = fma(a1, ba, acc1a);
      acc1b = fma(a1, bb, acc1b);
      let a2 = vec4<f32>(qkv[q2 + d]);
      acc2a = fma(a2, ba, acc2a);
      acc2b = fma(a2, bb, acc2b);
      let a3 = vec4<f32>(qkv[q3 + d]);
      acc3a = fma(a3, ba, acc3a);
      acc3b = fma(a3, bb, acc3b);
      let a4 = vec4<f32>(qkv[q4 + d]);
      acc4a = fma(a4, ba, acc4a);
      acc4b = fma(a4, bb, acc4b);
      let a5 = vec4<f32>(qkv[q5 + d]);
      acc5a = fma(a5, ba, acc5a);
      acc5b = fma(a5, bb, acc5b);
      let a6 = vec4<f32>(qkv[q6 + d]);
      acc6a = fma(a6, ba, acc6a);
      acc6b = fma(a6, bb, acc6b);
      let a7 = vec4<f32>(qkv[q7 + d]);
      acc7a = fma(a7, ba, acc7a);
      acc7b = fma(a7, bb, acc7b);
    }
  }

  let scale = params.scale;
  let mapBase = head * seqLen * kvLen;
  let accs = array<vec4<f32>, 16>(acc0a, acc0b, acc1a, acc1b, acc2a, acc2b, acc3a, acc3b, acc4a, acc4b, acc5a, acc5b, acc6a, acc6b, acc7a, acc7b);
  for (var r = 0u; r < MAP_TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    let lo = accs[2u * r] * scale;
    let hi = accs[2u * r + 1u] * scale;
    for (var c = 0u; c < MAP_TILE; c++) {
      let j = j0 + c * WG_X;
      if (j < kvLen) {
        var value = select(hi[c & 3u], lo[c], c < 4u);
        if (causal && j > i) {
          value = negativeInfinity();
        }
        scores[mapBase + i * kvLen + j] = value;
      }
    }
  }
}
