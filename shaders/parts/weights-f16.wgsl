// parts/weights-f16.wgsl — weights kept as the checkpoint's IEEE binary16, two to a u32 (weight
// 2n in the low half, 2n + 1 in the high half, as little-endian bytes lay them out), half the
// bytes of f32. unpack2x16float is core WGSL: no 'shader-f16' feature is needed, and the widened
// value is exact; every sum stays f32. Same binding and `weightAt` as parts/weights-f32.wgsl.
@group(0) @binding(2) var<storage, read> w: array<u32>;

fn weightAt(i: u32) -> f32 {
  return unpack2x16float(w[i >> 1u])[i & 1u];
}
