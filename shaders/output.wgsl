// output.wgsl — O[i, h·dHead + d] = Σ_j P[h, i, j] · V[j, h·dHead + d]: all heads in one dispatch.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 weights (read,
// heads × seqLen × kvLen), 3 output (read_write, seqLen × width). Layout: see common.wgsl.
// Dispatch: (ceil(dHead / (WG_X·8)), ceil(seqLen / (WG_Y·8)), heads).
// Each invocation computes an 8 × 8 block (queries strided by WG_Y, head columns by WG_X) in
// sixteen named vec4 accumulators: 16 loads per 64 multiply-adds (see scores.wgsl for why).
// Under a causal mask the weights past the block's last query are zero, so the sum stops there.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let head = group.z;
  let i0 = group.y * WG_Y * MAP_TILE + local.y;
  let d0 = group.x * WG_X * MAP_TILE + local.x;
  if (i0 >= seqLen || d0 >= dHead) {
    return;
  }
  let lastQuery = seqLen - 1u;
  let lastCol = dHead - 1u;
  let iLast = min(i0 + (MAP_TILE - 1u) * WG_Y, lastQuery);
  var keys = kvLen;
  if (params.causal == 1u) {
    keys = min(kvLen, iLast + 1u);
  }
  let p0 = (head * seqLen + min(i0 + 0u * WG_Y, lastQuery)) * kvLen;
  let p1 = (head * seqLen + min(i0 + 1u * WG_Y, lastQuery)) * kvLen;
  let p2 = (head * seqLen + min(i0 + 2u * WG_Y, lastQuery)) * kvLen;
  let p3 = (head * seqLen + min(i0 + 3u * WG_Y, lastQuery)) * kvLen;
  let p4 = (head * seqLen + min(i0 + 4u * WG_Y, lastQuery)) * kvLen;
  let p5 = (head * seqLen + min(i0 + 5u * WG_Y, lastQuery)) * kvLen;
  let p6 = (head * seqLen + min(i0 + 6u * WG_Y, lastQuery)) * kvLen;
  let p7 = (head * seqLen + min(i0 + 7u * WG_Y, lastQuery)) * kvLen;
  let column = params.vOffset + head * dHead;
  let v0 = column + min(d0 + 0u * WG_X, lastCol);
  let v1 = column + min(d0 + 1u * WG_X, lastCol);
  let v2 = column + min(d0 + 2u * WG_X, lastCol);
  let v3 = column + min(d0 + 3u * WG_X, lastCol);
  let v4 = column + min(d0 + 4u * WG_X, lastCol);
  let v5 = column + min(d0 + 5u * WG_X, lastCol);
  let v6 = column + min(d0 + 6u * WG_X, lastCol);
  let v7 = column + min(d0 + 7u * WG_X, lastCol);
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
  for (var j = 0u; j < keys; j++) {
    let vRow = j * width;
    let ba = vec4<f32>(qkv[v0 + vRow], qkv[v1 + vRow], qkv[v2 + vRow], qkv[v3 + vRow]);
    let bb = vec4<f32>(qkv[v4 + vRow], qkv[v5 + vRow], qkv[v6 + vRow], qkv[v7 + vRow]);
    let a0 = vec4<f32>(weights[p0 + j]);
    acc0a = fma(a0, ba, acc0a);
    acc0b = fma(a0, bb, acc0b);
    let a1 = vec4<f32>(weights[p1 + j]);
    acc1a = fma(a1, ba, acc1a);
    acc1b = fma(a1, bb, acc1b);
    let a2 = vec4<f32>(weights[p2 + j]);
    acc2a = fma(a2, ba, acc2a);
    acc2b = fma(a2, bb, acc2b);
    let a3 = vec4<f32>(weights[p3 + j]);
    acc3a = fma(a3, ba, acc3a);
    acc3b = fma(a3, bb, acc3b);
    let a4 = vec4<f32>(weights[p4 + j]);
    acc4a = fma(a4, ba, acc4a);
    acc4b = fma(a4, bb, acc4b);
    let a5 = vec4<f32>(weights[p5 + j]);
    acc5a = fma(a5, ba, acc5a);
    acc5b = fma(a5, bb, acc5b);
    let a6 = vec4<f32>(weights[p6 + j]);
    acc6a = fma(a6, ba, acc6a);
    acc6b = fma(a6, bb, acc6b);
    let a7 = vec4<f32>(weights[p7 + j]);
    acc7a = fma(a7, ba, acc7a);
    acc7b = fma(a7, bb, acc7b);
  }

  let accs = array<vec4<f32>, 16>(acc0a, acc0b, acc1a, acc1b, acc2a, acc2b, acc3a, acc3b, acc4a, acc4b, acc5a, acc5b, acc6a, acc6b, acc7a, acc7b);
  for (var r = 0u; r < MAP_TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    let lo = accs[2u * r];
    let hi = accs[2u * r + 1u];
    for (var c = 0u; c < MAP_TILE; c++) {
      let d = d0 + c * WG_X;
      if (d < dHead) {
        output[i * width + head * dHead + d] = select(hi[c & 3u], lo[c], c < 4u);
      }
    }
  }
}

// Narrow variant for small heads (dHead at most half the 8 × 8 tile's width, e.g. 16 or 32):
// each invocation computes 16 queries (strided by WG_Y) × 4 head columns (strided by WG_X), in
// sixteen named vec4 accumulators (one per query): 20 loads per 64 multiply-adds. The host
// picks WG_X ≈ ceil(dHead / 4) so that no invocation computes only clamped columns, and WG_Y
// so the workgroup keeps its size. Dispatch: (ceil(dHead / (WG_X·4)), ceil(seqLen / (WG_Y·16)), heads).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn narrow(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let head = group.z;
  let i0 = group.y * WG_Y * NARROW_ROWS + local.y;
  let d0 = group.x * WG_X * 4u + local.x;
  if (i0 >= seqLen || d0 >= dHead) {
    return;
  }
  let lastQuery = seqLen - 1u;
  let lastCol = dHead - 1u;
  let iLast = min(i0 + (NARROW_ROWS - 1u) * WG_Y, lastQuery);
  var keys = kvLen;
  if (params.causal == 1u) {
    keys = min(kvLen, iLast + 1u);
  }
  let p0 = (head * seqLen + min(i0 + 0u * WG_Y, lastQuery)) * kvLen;
  let p1 = (head * seqLen + min(i0 + 1u * WG_Y, lastQuery)) * kvLen;
  let p2 = (head * seqLen + min(i0 + 2u * WG_Y, lastQuery)) * kvLen;
  let p3 = (head * seqLen + min(i0 + 3u * WG_Y, lastQuery)) * kvLen;
  let p4 = (head * seqLen + min(i0 + 4u * WG_Y, lastQuery)) * kvLen;
  let p5 = (head * seqLen + min(i0 + 5u * WG_Y, lastQuery)) * kvLen;
  let p6 = (head * seqLen + min(i0 + 6u * WG_Y, lastQuery)) * kvLen;
  let p7 = (head * seqLen + min(i0 + 7u * WG_Y, lastQuery)) * kvLen;
  let p8 = (head * seqLen + min(i0 + 8u * WG_Y, lastQuery)) * kvLen;
  let p9 = (head * seqLen + min(i0 + 9u * WG_Y, lastQuery)) * kvLen;
  let p10 = (head * seqLen + min(i0 + 10u * WG_Y, lastQuery)) * kvLen;
  let p11 = (head * seqLen + min(i0 + 11u * WG_Y, lastQuery)) * kvLen;
  let p12 = (head * seqLen + min(i0 + 12u * WG_Y, lastQuery)) * kvLen;
  let p13 = (head * seqLen + min(i0 + 13u * WG_Y, lastQuery)) * kvLen;
  let p14 = (head * seqLen + min(i0 + 14u * WG_Y, lastQuery)) * kvLen;
  let p15 = (head * seqLen + min(i0 + 15u * WG_Y, lastQuery)) * kvLen;
  let column = params.vOffset + head * dHead;
  let v0 = column + min(d0 + 0u * WG_X, lastCol);
  let v1 = column + min(d0 + 1u * WG_X, lastCol);
  let v2 = column + min(d0 + 2u * WG_X, lastCol);
  let v3 = column + min(d0 + 3u * WG_X, lastCol);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  var acc8 = vec4<f32>(0.0);
  var acc9 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc12 = vec4<f32>(0.0);
  var acc13 = vec4<f32>(0.0);
  var acc14 = vec4<f32>(0.0);
  var acc15 = vec4<f32>(0.0);
  for (var j = 0u; j < keys; j++) {
    let vRow = j * width;
    let b = vec4<f32>(qkv[v0 + vRow], qkv[v1 + vRow], qkv[v2 + vRow], qkv[v3 + vRow]);
    acc0 = fma(vec4<f32>(weights[p0 + j]), b, acc0);
    acc1 = fma(vec4<f32>(weights[p1 + j]), b, acc1);
    acc2 = fma(vec4<f32>(weights[p2 + j]), b, acc2);
    acc3 = fma(vec4<f32>(weights[p3 + j]), b, acc3);
    acc4 = fma(vec4<f32>(weights[p4 + j]), b, acc4);
    acc5 = fma(vec4<f32>(weights[p5 + j]), b, acc5);
    acc6 = fma(vec4<f32>(weights[p6 + j]), b, acc6);
    acc7 = fma(vec4<f32>(weights[p7 + j]), b, acc7);
    acc8 = fma(vec4<f32>(weights[p8 + j]), b, acc8);
    acc9 = fma(vec4<f32>(weights[p9 + j]), b, acc9);
    acc10 = fma(vec4<f32>(weights[p10 + j]), b, acc10);
    acc11 = fma(vec4<f32>(weights[p11 + j]), b, acc11);
    acc12 = fma(vec4<f32>(weights[p12 + j]), b, acc12);
    acc13 = fma(vec4<f32>(weights[p13 + j]), b, acc13);
    acc14 = fma(vec4<f32>(weights[p14 + j]), b, acc14);
    acc15 = fma(vec4<f32>(weights[p15 + j]), b, acc15);
  }

  let accs = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15);
  for (var r = 0u; r < NARROW_ROWS; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    let acc = accs[r];
    for (var c = 0u; c < 4u; c++) {
      let d = d0 + c * WG_X;
      if (d < dHead) {
        output[i * width + head * dHead + d] = acc[c];
      }
    }
  }
}
