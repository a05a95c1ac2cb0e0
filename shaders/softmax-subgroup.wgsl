// softmax-subgroup.wgsl — the softmax of softmax.wgsl (`main`: one workgroup per row), with its
// reductions done by subgroup operations. Compiled only on devices with the 'subgroups' feature
// (src/kernels/attention.ts); elsewhere `main` of softmax.wgsl is the fallback. The `enable`
// directive is hoisted above common.wgsl by src/kernels/shaders.ts (directives must come first).
enable subgroups;
//
// Bindings, layout and dispatch: as softmax.wgsl (one workgroup per row, 2-D grid).
//
// 1. Each invocation runs an online softmax over its strided share of the row: a running max m
//    and a sum l rescaled whenever m grows. Lanes past the row's end keep (LOWEST, 0).
// 2. Each subgroup merges its (m, l) pairs: M = subgroupMax(m), L = subgroupAdd(l · exp(m − M)),
//    the exact online-softmax merge l = Σ l_k · exp(m_k − M).
// 3. Every invocation writes one slot of workgroup memory, indexed by its own
//    local_invocation_index: a subgroup's first invocation writes (M, L), every other one the
//    identity (LOWEST, 0). So no slot is shared, nothing relies on how invocations are laid out
//    into subgroups, and any subgroup size (4 … WG_SIZE, or larger with one partial subgroup)
//    works. One barrier.
// 4. Every subgroup reads all WG_SIZE slots, strided over its lanes (WG_SIZE / subgroup size
//    reads each), and merges them again with subgroupMax / subgroupAdd, so every invocation
//    holds the row's (max, sum) without a second barrier (subgroups of equal size compute the
//    very same merge, so the workgroup agrees bit for bit).
//
// Masked keys (causal, j > i) are never read; a row with nothing to attend to (rowSum = 0) is
// written as zeros, never NaN.

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
  @builtin(subgroup_invocation_id) subLane: u32,
  @builtin(subgroup_size) subSize: u32,
) {
  // Uniform per workgroup: returning here keeps the subgroup operations and the barrier below
  // in uniform control flow.
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

  // (LOWEST, 0) lanes add 0 · exp(…) = 0, whatever the subgroup's max.
  let subMax = subgroupMax(m);
  let subSum = subgroupAdd(l * exp(m - subMax));
  let first = subLane == 0u;
  shareMax[lane] = select(LOWEST, subMax, first);
  shareSum[lane] = select(0.0, subSum, first);
  workgroupBarrier();

  var m2 = LOWEST;
  var l2 = 0.0;
  for (var k = subLane; k < WG_SIZE; k += subSize) {
    let mk = shareMax[k];
    let lk = shareSum[k];
    let mNew = max(m2, mk);
    l2 = l2 * exp(m2 - mNew) + lk * exp(mk - mNew);
    m2 = mNew;
  }
  let rowMax = subgroupMax(m2);
  let rowSum = subgroupAdd(l2 * exp(m2 - rowMax));
  let inverse = select(0.0, 1.0 / rowSum, rowSum > 0.0);

  for (var j = lane; j < kvLen; j += WG_SIZE) {
    var p = 0.0;
    if (j < valid) {
      p = exp(scores[base + j] - rowMax) * inverse;
    }
    weights[base + j] = p;
  }
}
