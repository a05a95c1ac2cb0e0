// output.wgsl — O[i, h·dHead + d] = Σ_j P[h, i, j] · V[j, h·dHead + d]: all heads in one dispatch.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 weights (read,
// heads × seqLen × kvLen), 3 output (read_write, seqLen × width). Layout: see common.wgsl.
// Dispatch: (ceil(dHead / (WG_X·4)), ceil(seqLen / (WG_Y·4)), heads).
// Each invocation computes a 4 × 4 block (queries strided by WG_Y, head columns by WG_X).
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
  let i0 = group.y * WG_Y * TILE + local.y;
  let d0 = group.x * WG_X * TILE + local.x;
  if (i0 >= seqLen || d0 >= dHead) {
    return;
  }
  let lastQuery = seqLen - 1u;
  let lastCol = dHead - 1u;
  let iLast = min(i0 + 3u * WG_Y, lastQuery);
  var keys = kvLen;
  if (params.causal == 1u) {
    keys = min(kvLen, iLast + 1u);
  }
  let p0 = (head * seqLen + min(i0, lastQuery)) * kvLen;
  let p1 = (head * seqLen + min(i0 + WG_Y, lastQuery)) * kvLen;
  let p2 = (head * seqLen + min(i0 + 2u * WG_Y, lastQuery)) * kvLen;
  let p3 = (head * seqLen + min(i0 + 3u * WG_Y, lastQuery)) * kvLen;
  let column = params.vOffset + head * dHead;
  let v0 = column + min(d0, lastCol);
  let v1 = column + min(d0 + WG_X, lastCol);
  let v2 = column + min(d0 + 2u * WG_X, lastCol);
  let v3 = column + min(d0 + 3u * WG_X, lastCol);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var j = 0u; j < keys; j++) {
    let vRow = j * width;
    let b = vec4<f32>(qkv[v0 + vRow], qkv[v1 + vRow], qkv[v2 + vRow], qkv[v3 + vRow]);
    acc0 = fma(vec4<f32>(weights[p0 + j]), b, acc0);
    acc1 = fma(vec4<f32>(weights[p1 + j]), b, acc1);
    acc2 = fma(vec4<f32>(weights[p2 + j]), b, acc2);
    acc3 = fma(vec4<f32>(weights[p3 + j]), b, acc3);
  }

  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    let acc = accs[r];
    for (var c = 0u; c < TILE; c++) {
      let d = d0 + c * WG_X;
      if (d < dHead) {
        output[i * width + head * dHead + d] = acc[c];
      }
    }
  }
}
