// softmax.wgsl — weights[row, j] = exp(s[row, j] − max) / Σ exp(s[row, j'] − max), per row.
//
// Bindings (group 0): 0 params (uniform), 1 scores (read, heads × seqLen × kvLen),
// 2 weights (read_write, same layout). Layout: see common.wgsl.
// Dispatch: one workgroup per row (rows = heads · seqLen), laid out 2-D because one dimension
// holds at most 65535 workgroups: row = group.y · num_workgroups.x + group.x.
//
// Each invocation runs an online softmax over its strided share of the row (a running max m
// and a sum l rescaled whenever m grows), then the workgroup merges the (m, l) pairs in a tree.
// Masked keys (causal, j > i) are never read: they are −∞ by construction and get weight 0,
// so no infinity enters the arithmetic. A row with nothing to attend to (l = 0) is written as
// zeros, never NaN.

override WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

var<workgroup> shareMax: array<f32, WG_SIZE>;
var<workgroup> shareSum: array<f32, WG_SIZE>;

const LOWEST: f32 = -3.4028234663852886e38;

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
  let kvLen = params.kvLen;
  let query = row % params.seqLen;
  var valid = kvLen;
  if (params.causal == 1u) {
    valid = min(kvLen, query + 1u);
  }
  let base = row * kvLen;

  var m = LOWEST;
  var l = 0.0;
  for (var j = lane; j < valid; j += WG_SIZE) {
    let s = scores[base + j];
    if (s > m) {
      l = l * exp(m - s) + 1.0;
      m = s;
    } else {
      l += exp(s - m);
    }
  }
  shareMax[lane] = m;
  shareSum[lane] = l;
  workgroupBarrier();

  for (var stride = WG_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      let m2 = shareMax[lane + stride];
      let l2 = shareSum[lane + stride];
      let mNew = max(m, m2);
      l = l * exp(m - mNew) + l2 * exp(m2 - mNew);
      m = mNew;
      shareMax[lane] = m;
      shareSum[lane] = l;
    }
    workgroupBarrier();
  }
  let rowMax = shareMax[0];
  let rowSum = shareSum[0];
  let inverse = select(0.0, 1.0 / rowSum, rowSum > 0.0);

  for (var j = lane; j < kvLen; j += WG_SIZE) {
    var p = 0.0;
    if (j < valid) {
      p = exp(scores[base + j] - rowMax) * inverse;
    }
    weights[base + j] = p;
  }
}

// The same softmax with one invocation per row and no workgroup memory or barriers. CPU
// implementations of WebGPU (SwiftShader) pay dearly for barriers and run each invocation's
// loop over contiguous memory well; GPUs prefer `main` (many invocations per row, coalesced).
// Dispatch: ceil(rows / WG_SIZE) workgroups, 2-D like `main`.
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
  var valid = kvLen;
  if (params.causal == 1u) {
    valid = min(kvLen, row % params.seqLen + 1u);
  }
  let base = row * kvLen;
  var m = LOWEST;
  // The running sum in two parts: `block` gathers up to SUM_BLOCK terms, then folds into
  // `total`. A serial f32 sum of n terms drifts by up to n·2⁻²⁴ (6e-5 was seen at kvLen 16384
  // with sinusoidal inputs); in blocks it is (SUM_BLOCK + n/SUM_BLOCK)·2⁻²⁴.
  var total = 0.0;
  for (var start = 0u; start < valid; start += SUM_BLOCK) {
    let end = min(start + SUM_BLOCK, valid);
    var block = 0.0;
    for (var j = start; j < end; j++) {
      // One exp per element, no branch: exp(−|s − m|) is the factor that rescales the running
      // sums when s is a new maximum, and the new term when it is not (a CPU implementation
      // runs both sides of a branch, so the branchy form costs two).
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
