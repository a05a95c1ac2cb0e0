// flash-fixed.wgsl — the fused attention of flash.wgsl written out for one head size: dHead =
// 4 · D4 exactly (D4 a constant of the variant, src/kernels/shader-variants.ts), ROWS query rows
// per invocation. Same bindings, dispatch, results and order of operations per row as flash.wgsl;
// what differs is where the row lives. flash.wgsl keeps q and the accumulator in private arrays
// indexed by a loop counter, which a CPU implementation such as SwiftShader keeps in memory and
// a GPU compiler often places in local memory; here every vec4 of q and of the accumulator is a
// named value (q{r}_{c}, acc{r}_{c}) and every loop over the head is written out, so they can
// stay in registers. Assembled after common.wgsl, before parts/qkv-load.wgsl.
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv (read), 2 output (read_write, seqLen ×
// width), 3 lse (read_write, 2 · heads × seqLen: log-sum-exps, then row entropies, as
// flash.wgsl), 4 chunk (uniform: the first query block).
// Dispatch: (query blocks in this chunk, heads, 1); a block is WG_SIZE · ROWS queries; the
// invocation with local index `lane` owns rows lane, lane + WG_SIZE, … of its block.
//
// Masked keys (causal, j > i) are never visited: the loop stops at the last key the block's
// lowest row can see, and a row above it gives keys past its own diagonal weight 0.

override WG_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
struct Chunk {
  firstBlock: u32,
};
@group(0) @binding(4) var<uniform> chunk: Chunk;

// Four consecutive elements of q, k or v (dHead is a multiple of 4 here).
fn at4(base: u32) -> vec4<f32> {
  return vec4<f32>(qkv[base], qkv[base + 1u], qkv[base + 2u], qkv[base + 3u]);
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let run = params;
  let seqLen = run.seqLen;
  let width = run.width;
  let head = group.y;
  let first = (chunk.firstBlock + group.x) * WG_SIZE * ROWS + lane;
  if (first >= seqLen) {
    return;
  }
  let column = head * 4u * D4;
  let scale = run.scale;
  // Row r of this invocation: i{r} (clamped to the last row for loading; not stored past it).
  //#unroll r < ROWS: let i{r} = min(first + {r}u * WG_SIZE, seqLen - 1u);
  //#unroll r < ROWS: let keys{r} = visibleKeys(i{r});
  //#unroll r < 1: let keys = keys{ROWS - 1};
  // The scale is folded into q once instead of into every score.
  //#unroll r < ROWS, c < D4: let q{r}_{c} = at4(i{r} * width + column + {4 * c}u) * scale;
  //#unroll r < ROWS, c < D4: var acc{r}_{c} = vec4<f32>(0.0);
  // Running max m, and the sum in two parts (SUM_BLOCK terms gathered in `block`, then folded into `total`).
  //#unroll r < ROWS: var m{r} = LOWEST;
  //#unroll r < ROWS: var total{r} = 0.0;
  //#unroll r < ROWS: var block{r} = 0.0;
  // Σ exp(s − m)·s over the keys seen (the row entropy is lse − Σ w·s), rescaled with the sum.
  //#unroll r < ROWS: var e{r} = 0.0;
  // Keys in blocks of KB: the scores of KB keys, then one new maximum and one rescale of the
  // accumulator per block (instead of one per key), then KB weighted values. Keys past `keys`
  // in the last block, and past a row's own diagonal, get weight 0.
  for (var j0 = 0u; j0 < keys; j0 += KB) {
    //#unroll b < KB: let kRow{b} = run.kOffset + min(j0 + {b}u, keys - 1u) * width + column;
    //#unroll b < KB: let vRow{b} = run.vOffset + min(j0 + {b}u, keys - 1u) * width + column;
    //#unroll r < ROWS, b < KB: var s4_{r}_{b} = vec4<f32>(0.0);
    //#unroll b < KB, c < D4
    { let k = at4(kRow{b} + {4 * c}u);
      //#unroll r < ROWS: s4_{r}_{b} = fma(q{r}_{c}, k, s4_{r}_{b});
    }
    //#end
    let fold = (j0 % SUM_BLOCK) == SUM_BLOCK - KB;
    //#unroll r < ROWS
    // Online softmax over the block: p = exp(s − m_new), old terms rescaled by exp(m_old − m_new).
    //#unroll b < KB: let keep{r}_{b} = j0 + {b}u < keys{r};
    //#unroll b < KB: let s{r}_{b} = select(LOWEST, s4_{r}_{b}.x + s4_{r}_{b}.y + s4_{r}_{b}.z + s4_{r}_{b}.w, keep{r}_{b});
    var mNew{r} = m{r};
    //#unroll b < KB: mNew{r} = max(mNew{r}, s{r}_{b});
    let alpha{r} = exp(m{r} - mNew{r});
    //#unroll b < KB: let p{r}_{b} = select(0.0, exp(s{r}_{b} - mNew{r}), keep{r}_{b});
    m{r} = mNew{r};
    total{r} *= alpha{r};
    block{r} *= alpha{r};
    //#unroll b < KB: block{r} += p{r}_{b};
    e{r} *= alpha{r};
    //#unroll b < KB: e{r} = fma(p{r}_{b}, s{r}_{b}, e{r});
    total{r} = select(total{r}, total{r} + block{r}, fold);
    block{r} = select(block{r}, 0.0, fold);
    //#end
    //#unroll c < D4
    {
      //#unroll b < KB: let v{b} = at4(vRow{b} + {4 * c}u);
      //#unroll r < ROWS: acc{r}_{c} = acc{r}_{c} * alpha{r};
      //#unroll b < KB, r < ROWS: acc{r}_{c} = fma(vec4<f32>(p{r}_{b}), v{b}, acc{r}_{c});
    }
    //#end
  }

  //#unroll r < ROWS
  if (first + {r}u * WG_SIZE < seqLen) {
    let l = total{r} + block{r};
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let out = i{r} * width + column;
    //#unroll c < D4
    { let a = acc{r}_{c} * inv;
      output[out + {4 * c}u] = a.x;
      output[out + {4 * c + 1}u] = a.y;
      output[out + {4 * c + 2}u] = a.z;
      output[out + {4 * c + 3}u] = a.w;
    }
    //#end
    lse[head * seqLen + i{r}] = select(negativeInfinity(), m{r} + log(l), l > 0.0);
    lse[(run.heads + head) * seqLen + i{r}] = select(0.0, m{r} + log(l) - e{r} * inv, l > 0.0);
  }
  //#end
}
