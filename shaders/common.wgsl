// common.wgsl — put before every attention kernel, after any `enable` directive (the kernels
// are assembled in src/kernels/shader-variants.ts). reduce.wgsl binds a uniform block of its
// own at binding 0 and does without it.
//
// One uniform block describes the run, bound at binding 0 of every kernel that includes this
// file; every kernel reads the fields it needs. The host writes it by field name, at the offsets
// this declaration gives them (PARAMS_LAYOUT in src/kernels/packing.ts). Arrays are row-major f32.
// Packed buffers keep the bind groups small and let one dispatch cover Q, K and V:
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

// Kernels that read the block inside loops copy it once (`let run = params;`): its fields are
// then values in registers, not uniform loads that the compiler must prove it may hoist out of
// the loop.
@group(0) @binding(0) var<uniform> params: Params;

// Terms per partial sum where one invocation sums a whole softmax row (softmax.wgsl's
// rowPerInvocation, flash.wgsl): a serial f32 sum of n terms drifts by up to n·2⁻²⁴, in blocks
// by (SUM_BLOCK + n/SUM_BLOCK)·2⁻²⁴.
const SUM_BLOCK: u32 = 64u;

// The lowest finite f32: where a running maximum starts. Not −∞: −∞ − (−∞) is NaN, and
// arithmetic on infinities is not portable across drivers.
const LOWEST: f32 = -3.4028234663852886e38;

// The fused kernels (flash.wgsl, flash-reduce.wgsl) keep a query row in a private array of
// vec4s: dHead ≤ 4 · MAX_D4 = 128.
const MAX_D4: u32 = 32u;

// What one z-slice of a projections dispatch computes: 0 Q from x (seqLen rows) and wq, 1 K
// and 2 V from xKV (kvLen rows) and wk or wv, each written at its offset in `qkv`.
struct Projection {
  rows: u32,
  srcOffset: u32,
  wOffset: u32,
  dstOffset: u32,
};

fn projectionOf(which: u32) -> Projection {
  let wOffset = which * params.dModel * params.width;
  if (which == 0u) {
    return Projection(params.seqLen, 0u, wOffset, 0u);
  }
  return Projection(params.kvLen, params.xKVOffset, wOffset, select(params.vOffset, params.kOffset, which == 1u));
}

// The keys query `query` attends to: all kvLen, or under the causal mask keys 0 … query.
fn visibleKeys(query: u32) -> u32 {
  return select(params.kvLen, min(params.kvLen, query + 1u), params.causal == 1u);
}

// −∞ for masked scores. WGSL has no infinity literal and refuses one in a const-expression, so
// the bit pattern goes through a runtime variable.
fn negativeInfinity() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// Online softmax: the running maximum m of the scores seen so far and the sum l of exp(s − m)
// over them. A new maximum rescales the sum by exp(m_old − m_new), so one pass over a row is
// enough, and two states over disjoint parts of a row merge exactly. (LOWEST, 0) is the state of
// no scores, and the identity of onlineMerge.
struct Online {
  m: f32,
  l: f32,
};

// `state` after one more score s (one exp either way).
fn onlineAdd(state: Online, s: f32) -> Online {
  if (s > state.m) {
    return Online(s, state.l * exp(state.m - s) + 1.0);
  }
  return Online(state.m, state.l + exp(s - state.m));
}

// The state of the scores of `a` and of `b` together.
fn onlineMerge(a: Online, b: Online) -> Online {
  let m = max(a.m, b.m);
  return Online(m, a.l * exp(a.m - m) + b.l * exp(b.m - m));
}
