// swiglu.wgsl — the Llama family's MLP activation: act = silu(gate) ⊙ up, silu(z) = z·σ(z), where
// one linear step (x·[W_gate | W_up]ᵀ, src/kernels/llama-model.ts) wrote gate and up side by side:
// row t of `gateUp` is gate_t (outDim values) then up_t (outDim values). The f64 reference is
// src/model/llama-reference.ts. Assembled after parts/rows-params.wgsl.
//
// Bindings (group 0): 0 run (RowsParams: rows, outDim = the MLP width; inDim and eps unused),
// 1 gateUp (read, rows × 2·outDim), 2 act (read_write, rows × outDim).
// Dispatch: flatDims(rows · outDim) (src/kernels/launch.ts); one invocation per element of act,
// index id.x + id.y · 64 · num_workgroups.x.

@group(0) @binding(0) var<uniform> run: RowsParams;
@group(0) @binding(1) var<storage, read> gateUp: array<f32>;
@group(0) @binding(2) var<storage, read_write> act: array<f32>;

// z·σ(z) as z / (1 + e^(−z)): for z below about −88, e^(−z) is +∞ in f32 and the quotient −0,
// the limit; for large z it is z.
fn silu(z: f32) -> f32 {
  return z / (1.0 + exp(-z));
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = run.outDim;
  let i = id.x + id.y * groups.x * 64u;
  if (i >= run.rows * n) {
    return;
  }
  let row = i / n;
  let col = i % n;
  let base = row * 2u * n;
  act[i] = silu(gateUp[base + col]) * gateUp[base + n + col];
}
