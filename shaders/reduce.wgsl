// reduce.wgsl — the attention map reduced to the surface grid, GPU side of
// src/reference/reduce.ts (read its module comment for the planes and block boundaries).
//
// One dispatch per head: each head's map may lie in its own buffers at its own offset (a model's
// layers), so nothing is copied to line heads up first.
// Bindings (group 0): 0 params (uniform), 1 qk: the buffer holding this head's q and k rows
// (read), 2 scores (read), 3 weights (read), 4 grid (read_write): plane p of cell n at
// p · planeStride + n, with n = (slot · rows + r) · cols + c.
// Dispatch: (ceil(cols / WG_X), ceil(rows / WG_Y), 1): one invocation per cell of the head.
//
// Does not include common.wgsl: binding 0 is this kernel's own uniform block, ReduceParams (laid
// out for the host by REDUCE_PARAMS_LAYOUT in src/kernels/packing.ts).
//
// Masking follows the shape (causal and key > query), not the −∞ in `scores`: the scores
// kernel applies the same rule, and comparing with infinities is not portable across drivers.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct ReduceParams {
  seqLen: u32,
  kvLen: u32,
  mapOffset: u32,   // element offset of this head's seqLen × kvLen map in `scores` and `weights`
  dHead: u32,
  rowStride: u32,   // elements between consecutive q rows (and k rows) in `qk`
  causal: u32,      // 1: key j is masked for query i when j > i
  kOffset: u32,     // element offset of this head's k_0 in `qk`
  rows: u32,        // grid cells per head along the query axis
  cols: u32,        // grid cells per head along the key axis
  qOffset: u32,     // element offset of this head's q_0 in `qk`
  slot: u32,        // which head of the grid this dispatch writes
  mode: u32,        // 0: max, 1: mean
  planeStride: u32, // elements between planes of `grid`
  scale: f32,       // 1 / sqrt(dHead)
};

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> qk: array<f32>;
@group(0) @binding(2) var<storage, read> scores: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> grid: array<f32>;

// First entry of block `index` of `cells` blocks over `length` entries. Products stay below
// 2^32: index ≤ 256 and length ≤ 65536.
fn blockStart(index: u32, cells: u32, length: u32) -> u32 {
  return (index * length) / cells;
}

fn dotQK(i: u32, j: u32) -> f32 {
  let qBase = params.qOffset + i * params.rowStride;
  let kBase = params.kOffset + j * params.rowStride;
  var acc = 0.0;
  for (var d = 0u; d < params.dHead; d++) {
    acc = fma(qk[qBase + d], qk[kBase + d], acc);
  }
  return acc;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let c = id.x;
  let r = id.y;
  if (c >= params.cols || r >= params.rows) {
    return;
  }
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let i0 = blockStart(r, params.rows, seqLen);
  let i1 = blockStart(r + 1u, params.rows, seqLen);
  let j0 = blockStart(c, params.cols, kvLen);
  let j1 = blockStart(c + 1u, params.cols, kvLen);
  let causal = params.causal == 1u;
  let isMax = params.mode == 0u;
  let mapBase = params.mapOffset;

  // Block maxima start far below any value (not at −∞: infinities are not portable).
  let lowest = -3.0e38;
  var scaledBest = lowest;
  var maskedBest = lowest;
  var maskedSum = 0.0;
  var weightBest = lowest;
  var weightSum = 0.0;
  var maskedCount = 0u;
  for (var i = i0; i < i1; i++) {
    let rowBase = mapBase + i * kvLen;
    for (var j = j0; j < j1; j++) {
      let w = weights[rowBase + j];
      weightBest = max(weightBest, w);
      weightSum += w;
      if (causal && j > i) {
        maskedCount++;
        // The stored score is −∞ here; the raw stage needs the real product.
        if (isMax) {
          scaledBest = max(scaledBest, dotQK(i, j) * params.scale);
        }
      } else {
        let s = scores[rowBase + j];
        maskedBest = max(maskedBest, s);
        maskedSum += s;
        if (isMax) {
          scaledBest = max(scaledBest, s);
        }
      }
    }
  }

  let n = (i1 - i0) * (j1 - j0);
  let unmasked = n - maskedCount;
  var scaled: f32;
  if (isMax) {
    scaled = scaledBest;
  } else {
    // mean_{i∈I, j∈J} q_i·k_j = q̄_I · k̄_J: sum the block's q and k rows per column.
    var acc = 0.0;
    for (var d = 0u; d < params.dHead; d++) {
      var qs = 0.0;
      for (var i = i0; i < i1; i++) {
        qs += qk[params.qOffset + i * params.rowStride + d];
      }
      var ks = 0.0;
      for (var j = j0; j < j1; j++) {
        ks += qk[params.kOffset + j * params.rowStride + d];
      }
      acc = fma(qs, ks, acc);
    }
    scaled = acc / f32(n) * params.scale;
  }
  var masked = 0.0;
  if (unmasked > 0u) {
    masked = select(maskedSum / f32(unmasked), maskedBest, isMax);
  }

  let cell = (params.slot * params.rows + r) * params.cols + c;
  let stride = params.planeStride;
  grid[cell] = scaled / params.scale;
  grid[stride + cell] = scaled;
  grid[2u * stride + cell] = masked;
  grid[3u * stride + cell] = select(weightSum / f32(n), weightBest, isMax);
  grid[4u * stride + cell] = f32(maskedCount) / f32(n);
}
