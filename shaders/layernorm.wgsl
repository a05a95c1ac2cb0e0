// layernorm.wgsl — y = (x − mean) / √(var + eps) · gamma + beta over each row of x (rows × n),
// GPT-2's LayerNorm (biased variance, eps 1e-5), for the model's forward pass
// (src/kernels/model.ts). Assembled after parts/rows-params.wgsl (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 ln (RowsParams: rows, inDim = n, eps), 1 x (read), 2 gamma (read, n), 3 beta (read, n),
// 4 y (read_write). Arrays are row-major f32.
// Dispatch: (ceil(rows / 64), 1, 1); one invocation per row. Two passes over the row: the mean,
// then the sum of squared deviations from it (not E[x²] − mean², which cancels badly when the
// mean is large against the spread), both in f32; a third pass writes the normalised row.

@group(0) @binding(0) var<uniform> ln: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn item(row: u32) {
  let n = ln.inDim;
  let base = row * n;
  var sum = 0.0;
  for (var i = 0u; i < n; i++) {
    sum += x[base + i];
  }
  let mean = sum / f32(n);
  var squares = 0.0;
  for (var i = 0u; i < n; i++) {
    let d = x[base + i] - mean;
    squares = fma(d, d, squares);
  }
  let rstd = 1.0 / sqrt(squares / f32(n) + ln.eps);
  for (var i = 0u; i < n; i++) {
    y[base + i] = fma((x[base + i] - mean) * rstd, gamma[i], beta[i]);
  }
}

// One invocation per row.
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < ln.rows) {
    item(id.x);
  }
}
