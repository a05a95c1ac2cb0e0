// parts/store-projection.wgsl — how projections.wgsl and projections-lanes.wgsl store a value of
// Q, K or V (the attention's projections: as computed). `index` is its place in `qkv`, `column`
// its column over Q | K | V (which · width + col; unused here).
fn storeProjection(index: u32, column: u32, value: f32) {
  qkv[index] = value;
}
