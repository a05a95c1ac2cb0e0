// softmax.wgsl — weights[row, j] = exp(s[row, j] − max) / Σ exp(s[row, j'] − max), per row.
//
// Bindings (group 0): 0 params (common.wgsl), 1 scores (read, heads × seqLen × kvLen),
// 2 weights (read_write, same layout). Layout: see common.wgsl.
//
// Three variants, chosen from the adapter (src/kernels/tuning.ts); this template makes two
// modules of them (src/kernels/shaders.ts):
// - `main`, SUBGROUPS = 0 (kernel `softmax`): one workgroup per row. Each invocation runs an
//   online softmax (common.wgsl) over its strided share of the row, then the workgroup merges
//   the states in a tree in workgroup memory (GPUs without the 'subgroups' feature).
// - `main`, SUBGROUPS = 1 (kernel `softmaxSubgroup`, compiled only on devices with 'subgroups'):
//   the same, with the merges done by subgroup operations and a single barrier (below).
// - `rowPerInvocation`, SUBGROUPS = 0: one invocation per row, no workgroup memory or barriers.
//   CPU implementations of WebGPU (SwiftShader) pay dearly for barriers and run each
//   invocation's loop over contiguous memory well; GPUs prefer `main` (coalesced).
// Dispatch of `main`: one workgroup per row (rows = heads · seqLen), laid out 2-D because one
// dimension holds at most 65535 workgroups: row = group.y · num_workgroups.x + group.x. Of
// `rowPerInvocation`: ceil(rows / WG_SIZE) workgroups, 2-D the same way.
//
// Masked keys (causal, j > i) are never read: they are −∞ by construction and get weight 0,
// so no infinity enters the arithmetic. A row with nothing to attend to (sum 0) is written as
// zeros, never NaN.

//#if SUBGROUPS
enable subgroups;
//#end
//#include common.wgsl

override WG_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

var<workgroup> shareMax: array<f32, WG_SIZE>;
var<workgroup> shareSum: array<f32, WG_SIZE>;

//#if SUBGROUPS
// The merge of the states of a subgroup's invocations, in every one of them:
// m = subgroupMax(m_k), l = subgroupAdd(l_k · exp(m_k − m)), the onlineMerge of common.wgsl
// over all lanes at once. Identity states (LOWEST, 0) add 0 · exp(…) = 0 whatever m.
fn subgroupMerge(state: Online) -> Online {
  let m = subgroupMax(state.m);
  return Online(m, subgroupAdd(state.l * exp(state.m - m)));
}

//#end
@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
  //#if SUBGROUPS
  @builtin(subgroup_invocation_id) subLane: u32,
  @builtin(subgroup_size) subSize: u32,
  //#end
) {
  // Uniform per workgroup, so returning here keeps the barriers and subgroup operations below in
  // uniform control flow.
  let row = group.y * groups.x + group.x;
  if (row >= params.rows) {
    return;
  }
  let kvLen = params.kvLen;
  let valid = visibleKeys(row % params.seqLen);
  let base = row * kvLen;

  var state = Online(LOWEST, 0.0);
  for (var j = lane; j < valid; j += WG_SIZE) {
    state = onlineAdd(state, scores[base + j]);
  }
  //#if SUBGROUPS
  // Every invocation writes one slot of workgroup memory, indexed by its own
  // local_invocation_index: a subgroup's first invocation writes its subgroup's state, every
  // other one the identity. So no slot is shared, nothing relies on how invocations are laid out
  // into subgroups, and any subgroup size (4 … WG_SIZE, or larger with one partial subgroup)
  // works. Then every subgroup reads all WG_SIZE slots, strided over its lanes, and merges them
  // again, so every invocation holds the row's state without a second barrier (subgroups of
  // equal size compute the very same merge, so the workgroup agrees bit for bit).
  let partial = subgroupMerge(state);
  let first = subLane == 0u;
  shareMax[lane] = select(LOWEST, partial.m, first);
  shareSum[lane] = select(0.0, partial.l, first);
  workgroupBarrier();
  var gathered = Online(LOWEST, 0.0);
  for (var k = subLane; k < WG_SIZE; k += subSize) {
    gathered = onlineMerge(gathered, Online(shareMax[k], shareSum[k]));
  }
  let total = subgroupMerge(gathered);
  //#else
  shareMax[lane] = state.m;
  shareSum[lane] = state.l;
  workgroupBarrier();
  for (var stride = WG_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      state = onlineMerge(state, Online(shareMax[lane + stride], shareSum[lane + stride]));
      shareMax[lane] = state.m;
      shareSum[lane] = state.l;
    }
    workgroupBarrier();
  }
  let total = Online(shareMax[0], shareSum[0]);
  //#end
  let inverse = select(0.0, 1.0 / total.l, total.l > 0.0);

  for (var j = lane; j < kvLen; j += WG_SIZE) {
    var p = 0.0;
    if (j < valid) {
      p = exp(scores[base + j] - total.m) * inverse;
    }
    weights[base + j] = p;
  }
}
//#if !SUBGROUPS

@compute @workgroup_size(WG_SIZE, 1, 1)
fn rowPerInvocation(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = (group.y * groups.x + group.x) * WG_SIZE + lane;
  if (row >= params.rows) {
    return;
  }
  let kvLen = params.kvLen;
  let valid = visibleKeys(row % params.seqLen);
  let base = row * kvLen;
  var m = LOWEST;
  // The running sum in two parts: `block` gathers up to SUM_BLOCK terms, then folds into
  // `total` (SUM_BLOCK in common.wgsl; 6e-5 was seen at kvLen 16384 with sinusoidal inputs
  // summed serially).
  var total = 0.0;
  for (var start = 0u; start < valid; start += SUM_BLOCK) {
    let end = min(start + SUM_BLOCK, valid);
    var block = 0.0;
    for (var j = start; j < end; j++) {
      // One exp per element, no branch: exp(−|s − m|) is the factor that rescales the running
      // sums when s is a new maximum, and the new term when it is not (a CPU implementation
      // runs both sides of a branch, so the branchy form of onlineAdd costs two).
      let s = scores[base + j];
      let e = exp(-abs(s - m));
      let grows = s > m;
      total = select(total, total * e, grows);
      block = select(block + e, fma(block, e, 1.0), grows);
      m = max(m, s);
    }
    total += block;
  }
  let l = total;
  let inverse = select(0.0, 1.0 / l, l > 0.0);
  for (var j = 0u; j < valid; j++) {
    weights[base + j] = exp(scores[base + j] - m) * inverse;
  }
  for (var j = valid; j < kvLen; j++) {
    weights[base + j] = 0.0;
  }
}
//#end
