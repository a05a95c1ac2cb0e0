// rope.wgsl — rotary positions on the queries and keys of the Llama family, in Hugging Face's
// rotate-half convention: element i of a head (i < d/2) pairs with element i + d/2, and
//   (a, b) → (a·cos θ − b·sin θ, b·cos θ + a·sin θ),   θ = position · invFreq[i].
// The f64 reference is applyRope in src/model/rope.ts. cos θ and sin θ come from a table made on
// the CPU in f64 (src/kernels/llama-ops.ts ropeTable): the GPU's sin and cos of an angle in the
// thousands of radians (long contexts) would be off in the third digit.
//
// Bindings (group 0): 0 rope (RopeParams), 1 table (read: cos at t · half + i, sin at
// rows · half + t · half + i, for row t), 2 x (read_write): head h of row t starts at
// qOffset + t · qStride + h · headDim for the queries (h < qHeads), and at
// kOffset + t · kStride + h · headDim for the keys (h < kvHeads). Rotated in place.
// Dispatch: (ceil(half / 8), ceil(rows / 8), qHeads + kvHeads): one invocation per pair.

struct RopeParams {
  rows: u32,
  half: u32,       // headDim / 2
  qHeads: u32,
  kvHeads: u32,
  qOffset: u32,    // element offset of q_0 in x
  kOffset: u32,    // element offset of k_0 in x
  qStride: u32,    // elements between consecutive q rows
  kStride: u32,    // elements between consecutive k rows
};

@group(0) @binding(0) var<uniform> rope: RopeParams;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  let row = id.y;
  let slot = id.z;
  if (i >= rope.half || row >= rope.rows || slot >= rope.qHeads + rope.kvHeads) {
    return;
  }
  let headDim = 2u * rope.half;
  var start: u32;
  if (slot < rope.qHeads) {
    start = rope.qOffset + row * rope.qStride + slot * headDim;
  } else {
    start = rope.kOffset + row * rope.kStride + (slot - rope.qHeads) * headDim;
  }
  let c = table[row * rope.half + i];
  let s = table[rope.rows * rope.half + row * rope.half + i];
  let a = x[start + i];
  let b = x[start + i + rope.half];
  x[start + i] = a * c - b * s;
  x[start + i + rope.half] = b * c + a * s;
}
