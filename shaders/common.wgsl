// common.wgsl — prepended to every attention kernel (see src/kernels/shaders.ts).
//
// One uniform block describes the run; every kernel reads the fields it needs. Arrays are
// row-major f32. Packed buffers keep the bind groups small and let one dispatch cover Q, K and V:
//   src    = x (seqLen × dModel) then, for cross-attention, xKV (kvLen × dModel) at xKVOffset
//   w      = wq | wk | wv, each dModel × width, width = heads · dHead
//   qkv    = q (seqLen × width) | k (kvLen × width) at kOffset | v (kvLen × width) at vOffset
//   scores, weights = heads × seqLen × kvLen
//   output = seqLen × width

struct Params {
  seqLen: u32,
  kvLen: u32,
  dModel: u32,
  heads: u32,
  dHead: u32,
  width: u32,
  causal: u32,     // 1: key j is masked for query i when j > i
  xKVOffset: u32,  // element offset of xKV in `src` (0 for self-attention: xKV is x)
  kOffset: u32,    // element offset of k in `qkv`
  vOffset: u32,    // element offset of v in `qkv`
  scale: f32,      // 1 / sqrt(dHead)
  rows: u32,       // heads · seqLen: softmax rows
};

// Register tiles: each invocation of a matmul-shaped kernel computes a block of outputs held
// in named vec4 accumulators, never in private arrays: a CPU implementation (SwiftShader)
// spills dynamically indexed arrays to memory, and every GPU compiler keeps named vec4s in
// registers. Projections (cheap: O(n·d²)) use 4 × 4; scores and output (O(n²·d)) use 8 × 8
// (output has a 16 × 4 variant for small heads).
const PROJ_TILE: u32 = 4u;
const MAP_TILE: u32 = 8u;
// The output kernel's narrow variant (small dHead): 16 queries × 4 head columns per invocation.
const NARROW_ROWS: u32 = 16u;

// Terms per partial sum where one invocation sums a whole softmax row (softmax.wgsl's
// rowPerInvocation, flash.wgsl): a serial f32 sum of n terms drifts by up to n·2⁻²⁴, in blocks
// by (SUM_BLOCK + n/SUM_BLOCK)·2⁻²⁴.
const SUM_BLOCK: u32 = 64u;

// What one z-slice of a projections dispatch computes: 0 Q from x (seqLen rows), 1 K and 2 V
// from xKV (kvLen rows), each written at its offset in `qkv`.
struct Projection {
  rows: u32,
  srcOffset: u32,
  dstOffset: u32,
};

fn projectionOf(which: u32) -> Projection {
  if (which == 0u) {
    return Projection(params.seqLen, 0u, 0u);
  }
  return Projection(params.kvLen, params.xKVOffset, select(params.vOffset, params.kOffset, which == 1u));
}

// −∞ for masked scores. WGSL has no infinity literal and refuses one in a const-expression, so
// the bit pattern goes through a runtime variable.
fn negativeInfinity() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}
