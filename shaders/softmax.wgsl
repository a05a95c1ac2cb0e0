// softmax.wgsl — weights[row, j] = exp(s[row, j] − max) / Σ exp(s[row, j'] − max), per row.
// Assembled after common.wgsl and parts/softmax-rows.wgsl (bindings, WG_SIZE, workgroup memory).
//
// Three variants, chosen from the adapter (src/kernels/tuning.ts), two here and one in
// softmax-subgroup.wgsl (kernel `softmaxSubgroup`, for GPUs with the 'subgroups' feature):
// - `main`: one workgroup per row. Each invocation runs an online softmax (common.wgsl) over its
//   strided share of the row, then the workgroup merges the states in a tree in workgroup memory
//   (GPUs without the 'subgroups' feature).
// - `rowPerInvocation`: one invocation per row, no workgroup memory or barriers. CPU
//   implementations of WebGPU (SwiftShader) pay dearly for barriers and run each invocation's
//   loop over contiguous memory well; GPUs prefer a workgroup per row (coalesced).
// Dispatch of `main`: one workgroup per row (rows = heads · seqLen), laid out 2-D because one
// dimension holds at most 65535 workgroups: row = group.y · num_workgroups.x + group.x. Of
// `rowPerInvocation`: ceil(rows / WG_SIZE) workgroups, 2-D the same way.
//
// Masked keys (causal, j > i) are never read: they are −∞ by construction and get weight 0,
// so no infinity enters the arithmetic. A row with nothing to attend to (sum 0) is written as
// zeros, never NaN.

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  // Uniform per workgroup, so returning here keeps the barriers below in uniform control flow.
  let row = group.y * groups.x + group.x;
  if (row >= params.rows) {
    return;
  }
  let r = softmaxRow(row);
  var state = laneState(r, lane);
  // The merge: a tree in workgroup memory, halving the active invocations per step.
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
  writeLaneWeights(r, lane, total);
}

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
