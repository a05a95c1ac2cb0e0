// parts/weights-f32.wgsl — how the linear kernels (linear.wgsl, linear-lanes.wgsl,
// linear-workgroup.wgsl) and the embedding (embed.wgsl) read their weights: binding 2 holds one
// f32 per weight. The 16-bit parts (weights-f16.wgsl, weights-bf16.wgsl) declare the same
// binding and `weightAt` over packed halves instead, so a kernel reads every format alike.
@group(0) @binding(2) var<storage, read> w: array<f32>;

fn weightAt(i: u32) -> f32 {
  return w[i];
}
