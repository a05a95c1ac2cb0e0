// parts/softmax-rows.wgsl — what softmax.wgsl and softmax-subgroup.wgsl share, put after
// common.wgsl: the bindings, the workgroup size and the workgroup memory the merges use.
//
// Bindings (group 0): 0 params (common.wgsl), 1 scores (read, heads × seqLen × kvLen),
// 2 weights (read_write, same layout). Layout: see common.wgsl.

override WG_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

var<workgroup> shareMax: array<f32, WG_SIZE>;
var<workgroup> shareSum: array<f32, WG_SIZE>;
