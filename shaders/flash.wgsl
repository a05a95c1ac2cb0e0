// flash.wgsl — fused attention, FlashAttention-2 style: O = softmax(Q·Kᵀ/√dHead)·V without
// ever storing the seqLen × kvLen map. Keys and values stream past each query; an online
// softmax (as in common.wgsl, written out branch-free because it also rescales the accumulator)
// keeps a running max m and sum l, rescales the accumulator when m grows, and the output is
// normalised once at the end. Extra memory: one log-sum-exp per (head, query). Assembled after
// common.wgsl, then parts/qkv-load.wgsl (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv = q | k | v (read, layout of common.wgsl),
// 2 output (read_write, seqLen × width), 3 lse (read_write, 2 · heads × seqLen: m + log l of each
// row, −∞ for a row with nothing to attend to; then each row's entropy −Σ w·ln w in nats, which
// is lse − Σ w·s, from a third running sum e = Σ exp(s − m)·s rescaled as l is; 0 for a row with
// nothing to attend to), 4 chunk (uniform: the first query block of this dispatch).
// Dispatch: (query blocks in this chunk, heads, 1); a block is WG_SIZE · 2 queries, all blocks
// over the chunks cover ceil(seqLen / (WG_SIZE · 2)). Each invocation owns two query rows of one
// head (rows r and r + WG_SIZE of its workgroup's block), so every key and value load serves two
// queries. dHead ≤ 4 · MAX_D4; q and the accumulators live in private arrays of vec4.
//
// Masked keys (causal, j > i) are never visited. The loop over keys stops at the last key the
// pair of queries can see; the lower query skips keys past its own diagonal with weight 0.

override WG_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
// The dispatch covers query blocks firstBlock … firstBlock + groups.x − 1: a long run is split
// into several submissions (src/kernels/flash.ts), so the page can draw and report progress
// between them and a cancel takes effect.
struct Chunk {
  firstBlock: u32,
};
@group(0) @binding(4) var<uniform> chunk: Chunk;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let d4 = (dHead + 3u) / 4u;
  let head = group.y;
  let iA = (chunk.firstBlock + group.x) * WG_SIZE * 2u + lane;
  let iB = iA + WG_SIZE;
  if (iA >= seqLen) {
    return;
  }
  let hasB = iB < seqLen;
  let iBc = min(iB, seqLen - 1u);
  let keys = visibleKeys(iBc);
  let keysA = visibleKeys(iA);
  let column = head * dHead;
  let scale = params.scale;

  var qA: array<vec4<f32>, MAX_D4>;
  var qB: array<vec4<f32>, MAX_D4>;
  var accA: array<vec4<f32>, MAX_D4>;
  var accB: array<vec4<f32>, MAX_D4>;
  for (var c = 0u; c < d4; c++) {
    // The scale is folded into q once instead of into every score.
    qA[c] = load4(iA * width + column, c, dHead) * scale;
    qB[c] = load4(iBc * width + column, c, dHead) * scale;
    accA[c] = vec4<f32>(0.0);
    accB[c] = vec4<f32>(0.0);
  }
  var mA = LOWEST;
  var mB = LOWEST;
  // Running sums in two parts (see SUM_BLOCK in common.wgsl): `block*` gathers up to SUM_BLOCK
  // terms, then folds into `total*`; both are rescaled when the max grows.
  var totalA = 0.0;
  var totalB = 0.0;
  var blockA = 0.0;
  var blockB = 0.0;
  // Σ exp(s − m)·s over the keys seen (for the row entropy), rescaled with the sum.
  var eA = 0.0;
  var eB = 0.0;
  for (var j = 0u; j < keys; j++) {
    let kRow = params.kOffset + j * width + column;
    let vRow = params.vOffset + j * width + column;
    var sA4 = vec4<f32>(0.0);
    var sB4 = vec4<f32>(0.0);
    for (var c = 0u; c < d4; c++) {
      let k = load4(kRow, c, dHead);
      sA4 = fma(qA[c], k, sA4);
      sB4 = fma(qB[c], k, sB4);
    }
    let sA = sA4.x + sA4.y + sA4.z + sA4.w;
    let sB = sB4.x + sB4.y + sB4.z + sB4.w;
    // Online softmax: p = exp(s − m_new), old terms rescaled by exp(m_old − m_new).
    let mANew = max(mA, sA);
    let mBNew = max(mB, sB);
    let alphaA = exp(mA - mANew);
    let alphaB = exp(mB - mBNew);
    var pA = exp(sA - mANew);
    let pB = exp(sB - mBNew);
    if (j >= keysA) {
      // Past query A's diagonal (causal): weight 0 and no change to its state.
      pA = 0.0;
    }
    let keepA = j < keysA;
    let aA = select(1.0, alphaA, keepA);
    mA = select(mA, mANew, keepA);
    mB = mBNew;
    totalA *= aA;
    totalB *= alphaB;
    blockA = fma(blockA, aA, pA);
    blockB = fma(blockB, alphaB, pB);
    eA = fma(eA, aA, pA * sA);
    eB = fma(eB, alphaB, pB * sB);
    let fold = (j % SUM_BLOCK) == SUM_BLOCK - 1u;
    totalA = select(totalA, totalA + blockA, fold);
    totalB = select(totalB, totalB + blockB, fold);
    blockA = select(blockA, 0.0, fold);
    blockB = select(blockB, 0.0, fold);
    for (var c = 0u; c < d4; c++) {
      let v = load4(vRow, c, dHead);
      accA[c] = fma(vec4<f32>(pA), v, accA[c] * aA);
      accB[c] = fma(vec4<f32>(pB), v, accB[c] * alphaB);
    }
  }

  let lA = totalA + blockA;
  let lB = totalB + blockB;
  let invA = select(0.0, 1.0 / lA, lA > 0.0);
  let invB = select(0.0, 1.0 / lB, lB > 0.0);
  for (var c = 0u; c < d4; c++) {
    let a = accA[c] * invA;
    let b = accB[c] * invB;
    for (var e = 0u; e < 4u; e++) {
      let d = c * 4u + e;
      if (d < dHead) {
        output[iA * width + column + d] = a[e];
        if (hasB) {
          output[iB * width + column + d] = b[e];
        }
      }
    }
  }
  let entropyAt = params.heads * seqLen + head * seqLen;
  lse[head * seqLen + iA] = select(negativeInfinity(), mA + log(lA), lA > 0.0);
  lse[entropyAt + iA] = select(0.0, mA + log(lA) - eA * invA, lA > 0.0);
  if (hasB) {
    lse[head * seqLen + iB] = select(negativeInfinity(), mB + log(lB), lB > 0.0);
    lse[entropyAt + iB] = select(0.0, mB + log(lB) - eB * invB, lB > 0.0);
  }
}
