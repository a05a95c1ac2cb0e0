// rmsnorm.wgsl — y = x / √(mean(x²) + eps) · weight over each row of x (rows × n): the RMSNorm of
// the Llama family (Llama, Qwen2, SmolLM2; `rms_norm_eps` of config.json), the f64 reference being
// src/model/llama-reference.ts. Assembled after parts/rows-params.wgsl (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 norm (RowsParams: rows, inDim = n, eps), 1 x (read), 2 weight (read, n),
// 3 y (read_write). Arrays are row-major f32.
// Dispatch: (ceil(rows / 64), 1, 1); one invocation per row. The sum of squares is accumulated in
// f32 with fma over the row (no mean is subtracted: RMSNorm has none), then one pass writes it.

@group(0) @binding(0) var<uniform> norm: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn item(row: u32) {
  let n = norm.inDim;
  let base = row * n;
  var squares = 0.0;
  for (var i = 0u; i < n; i++) {
    let v = x[base + i];
    squares = fma(v, v, squares);
  }
  let scale = 1.0 / sqrt(squares / f32(n) + norm.eps);
  for (var i = 0u; i < n; i++) {
    y[base + i] = x[base + i] * scale * weight[i];
  }
}

// One invocation per row.
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < norm.rows) {
    item(id.x);
  }
}
