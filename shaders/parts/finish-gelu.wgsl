// parts/finish-gelu.wgsl — the end of linear.wgsl for kernel `linearGelu`: y = GELU(x·W + b),
// GPT-2's tanh form 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))). Binding 4: bias (read, outDim).
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// tanh's argument is clamped to ±15, where tanh is ±1 in f32: an implementation that computes
// tanh from exp(2u) would otherwise give ∞/∞ = NaN for large |u|.
fn gelu(v: f32) -> f32 {
  let u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return 0.5 * v * (1.0 + tanh(clamp(u, -15.0, 15.0)));
}

// Finish one output: bias, activation, store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  var value = acc;
  value += bias[col];
  value = gelu(value);
  y[row * outDim + col] = value;
}
