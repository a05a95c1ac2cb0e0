// parts/per-item.wgsl — the entry point of a kernel with one invocation per item (a row of
// layernorm.wgsl, an element of embed.wgsl): dispatch (ceil(ITEMS / 64), 1, 1). The including
// template sets ITEMS (an expression over its uniform block) and defines `fn item(index: u32)`.
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < {ITEMS}) {
    item(id.x);
  }
}
