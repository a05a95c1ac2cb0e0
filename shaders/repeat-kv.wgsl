// repeat-kv.wgsl — grouped-query attention laid out for the attention kernels: from the rows a
// Llama block's fused projection wrote (row t: q_t | k_t | v_t, heads·headDim + 2·kvHeads·headDim
// values, q and k already rotated by shaders/rope.wgsl) to the packed q | k | v the scores,
// softmax and output kernels read (common.wgsl: q at 0, k at kOffset, v at vOffset, each
// rows × heads·headDim), with key/value head g repeated for the run of query heads
// g·group … (g + 1)·group − 1, group = heads / kvHeads (Hugging Face's repeat_kv). With
// kvHeads = heads it is a plain re-layout.
//
// Bindings (group 0): 0 run (RepeatParams), 1 src (read), 2 qkv (read_write).
// Dispatch: flatDims(rows · heads · headDim) with z = 3 (src/kernels/launch.ts): z = 0 copies q,
// 1 k, 2 v; the element is id.x + id.y · 64 · num_workgroups.x.

struct RepeatParams {
  rows: u32,
  headDim: u32,
  heads: u32,
  kvHeads: u32,
  kOffset: u32,  // element offset of k in qkv
  vOffset: u32,  // element offset of v in qkv
};

@group(0) @binding(0) var<uniform> run: RepeatParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> qkv: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let width = run.heads * run.headDim;
  let e = id.x + id.y * groups.x * 64u;
  if (e >= run.rows * width) {
    return;
  }
  let kvWidth = run.kvHeads * run.headDim;
  let row = e / width;
  let col = e % width;
  let head = col / run.headDim;
  let i = col % run.headDim;
  let srcRow = row * (width + 2u * kvWidth);
  let kvCol = (head / (run.heads / run.kvHeads)) * run.headDim + i;
  if (id.z == 0u) {
    qkv[e] = src[srcRow + col];
  } else if (id.z == 1u) {
    qkv[run.kOffset + e] = src[srcRow + width + kvCol];
  } else {
    qkv[run.vOffset + e] = src[srcRow + width + kvWidth + kvCol];
  }
}
