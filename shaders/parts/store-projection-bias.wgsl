// parts/store-projection-bias.wgsl — the store of projections.wgsl and projections-lanes.wgsl for
// the model (kernels projectionsBias, projectionsLanesBias): 4 bias = b_Q | b_K | b_V (read),
// each `width` long, added to Q, K, V before the store (GPT-2's c_attn bias). `index` is the
// value's place in `qkv`, `column` its column over Q | K | V (which · width + col).
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn storeProjection(index: u32, column: u32, value: f32) {
  qkv[index] = value + bias[column];
}
