// parts/finish-bias.wgsl — the end of linear.wgsl for kernel `linear`: y = x·W + b.
// Binding 4: bias (read, outDim).
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Finish one output: bias, store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  var value = acc;
  value += bias[col];
  y[row * outDim + col] = value;
}
