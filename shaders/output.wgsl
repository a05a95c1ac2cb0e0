// output.wgsl — O[i, h·dHead + d] = Σ_j P[h, i, j] · V[j, h·dHead + d]: all heads in one dispatch.
//
// Bindings (group 0): 0 params (uniform), 1 qkv = q | k | v (read), 2 weights (read,
// heads × seqLen × kvLen), 3 output (read_write, seqLen × width). Layout: see common.wgsl.
// Dispatch: (ceil(dHead / (WG_X·TILE)), ceil(seqLen / (WG_Y·TILE)), heads).
// Each invocation computes a TILE × TILE block (queries strided by WG_Y, head columns by WG_X).
// Under a causal mask, weights past the last query of the block are zero, so the sum stops
// there.

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
  let iLast = min(i0 + (TILE - 1u) * WG_Y, seqLen - 1u);
  var keys = kvLen;
  if (params.causal == 1u) {
    keys = min(kvLen, iLast + 1u);
  }

  var pBase: array<u32, TILE>;
  var vCol: array<u32, TILE>;
  for (var t = 0u; t < TILE; t++) {
    pBase[t] = (head * seqLen + min(i0 + t * WG_Y, seqLen - 1u)) * kvLen;
    vCol[t] = params.vOffset + head * dHead + min(d0 + t * WG_X, dHead - 1u);
  }

  var acc: array<array<f32, TILE>, TILE>;
  for (var j = 0u; j < keys; j++) {
    var p: array<f32, TILE>;
    var v: array<f32, TILE>;
    for (var t = 0u; t < TILE; t++) {
      p[t] = weights[pBase[t] + j];
      v[t] = qkv[vCol[t] + j * width];
    }
    for (var r = 0u; r < TILE; r++) {
      for (var c = 0u; c < TILE; c++) {
        acc[r][c] = fma(p[r], v[c], acc[r][c]);
      }
    }
  }

  for (var r = 0u; r < TILE; r++) {
    let i = i0 + r * WG_Y;
    if (i >= seqLen) {
      break;
    }
    for (var c = 0u; c < TILE; c++) {
      let d = d0 + c * WG_X;
      if (d < dHead) {
        output[i * width + head * dHead + d] = acc[r][c];
      }
    }
  }
}
