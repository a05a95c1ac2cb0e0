// parts/weights-bf16.wgsl — weights kept as the checkpoint's bfloat16, two to a u32 (weight 2n in
// the low half, 2n + 1 in the high half). A bfloat16 is the top half of an f32, so widening is a
// shift (low half) or a mask (high half): exact, core WGSL, sums in f32. Same binding and
// `weightAt` as parts/weights-f32.wgsl.
@group(0) @binding(2) var<storage, read> w: array<u32>;

fn weightAt(i: u32) -> f32 {
  let word = w[i >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}
