// parts/qkv-load.wgsl — vec4 loads of q, k and v rows for the fused kernels (flash.wgsl,
// flash-reduce.wgsl), which keep a row in MAX_D4 vec4s (common.wgsl). Needs the `qkv` binding.

// Four consecutive elements of a q/k/v row as a vec4, zero past dHead (dHead % 4 ≠ 0). Rows
// are not vec4-aligned in general (width may be odd), so the loads are scalar; the arithmetic
// is vec4.
fn load4(base: u32, c: u32, dHead: u32) -> vec4<f32> {
  let d = c * 4u;
  var r = vec4<f32>(0.0);
  r.x = qkv[base + d];
  if (d + 1u < dHead) { r.y = qkv[base + d + 1u]; }
  if (d + 2u < dHead) { r.z = qkv[base + d + 2u]; }
  if (d + 3u < dHead) { r.w = qkv[base + d + 3u]; }
  return r;
}
