// parts/finish-residual.wgsl — the end of linear.wgsl for kernel `linearResidual`: y = residual +
// x·W + b (the residual stream of a block). Bindings 4: bias (read, outDim), 5: residual (read,
// rows × outDim).
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

// Finish one output: bias, residual, store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  var value = acc;
  value += bias[col];
  value += residual[row * outDim + col];
  y[row * outDim + col] = value;
}
