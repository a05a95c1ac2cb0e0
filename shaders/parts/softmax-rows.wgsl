// parts/softmax-rows.wgsl — what softmax.wgsl and softmax-subgroup.wgsl share, put after
// common.wgsl: the bindings, the workgroup size and the workgroup memory the merges use, and the
// two strided passes over a row of a workgroup-per-row `main`.
//
// Bindings (group 0): 0 params (common.wgsl), 1 scores (read, heads × seqLen × kvLen),
// 2 weights (read_write, same layout). Layout: see common.wgsl.

override WG_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

var<workgroup> shareMax: array<f32, WG_SIZE>;
var<workgroup> shareSum: array<f32, WG_SIZE>;

// One row of scores and weights: its first entry (rows are kvLen long), its length, and how
// many of its keys are visible (the rest are masked).
struct SoftmaxRow {
  base: u32,
  kvLen: u32,
  valid: u32,
};

fn softmaxRow(row: u32) -> SoftmaxRow {
  let kvLen = params.kvLen;
  return SoftmaxRow(row * kvLen, kvLen, visibleKeys(row % params.seqLen));
}

// The online state (common.wgsl) of one invocation's strided share of a row: keys lane,
// lane + WG_SIZE, … below `valid` (masked keys are never read).
fn laneState(r: SoftmaxRow, lane: u32) -> Online {
  var state = Online(LOWEST, 0.0);
  for (var j = lane; j < r.valid; j += WG_SIZE) {
    state = onlineAdd(state, scores[r.base + j]);
  }
  return state;
}

// Write the same share of the row's weights from the row's merged state `total`: masked keys
// get 0, and a row with nothing to attend to (sum 0) zeros, never NaN.
fn writeLaneWeights(r: SoftmaxRow, lane: u32, total: Online) {
  let inverse = select(0.0, 1.0 / total.l, total.l > 0.0);
  for (var j = lane; j < r.kvLen; j += WG_SIZE) {
    var p = 0.0;
    if (j < r.valid) {
      p = exp(scores[r.base + j] - total.m) * inverse;
    }
    weights[r.base + j] = p;
  }
}
