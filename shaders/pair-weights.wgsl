// pair-weights.wgsl — single entries of a fused run's (never stored) attention weights:
// w[head, i, j] = exp(q_i · k_j / √dHead − lse_i) for a list of (query i, key j) pairs, every
// head, from q, k and each row's log-sum-exp (flash.wgsl's `lse`). What the head scores of a
// long run read (src/app/head-scores.ts: the weight on the previous token and on the first one,
// every row), at the cost of one dot product per pair and head. A key the causal mask hides
// (j > i) has weight 0. Assembled after common.wgsl.
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv (read), 2 lse (read, heads × seqLen),
// 3 pairs (read: query, key, query, key, … as u32), 4 out (read_write: heads × count floats from
// `outBase`), 5 pair params (uniform).
// Dispatch: (ceil(count / 64), heads, 1); one invocation per pair and head.

struct PairParams {
  count: u32,
  outBase: u32,
};

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> pairs: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> pairParams: PairParams;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let run = params;
  let n = id.x;
  let head = id.y;
  if (n >= pairParams.count) {
    return;
  }
  let i = pairs[2u * n];
  let j = pairs[2u * n + 1u];
  var w = 0.0;
  if (!(run.causal == 1u && j > i)) {
    let qRow = i * run.width + head * run.dHead;
    let kRow = run.kOffset + j * run.width + head * run.dHead;
    var s = 0.0;
    for (var e = 0u; e < run.dHead; e++) {
      s = fma(qkv[qRow + e], qkv[kRow + e], s);
    }
    w = exp(s * run.scale - lse[head * run.seqLen + i]);
  }
  out[pairParams.outBase + head * pairParams.count + n] = w;
}
