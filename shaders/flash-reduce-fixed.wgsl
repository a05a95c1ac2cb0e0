// flash-reduce-fixed.wgsl — flash-reduce.wgsl written out for one head size, dHead = 4 · D4
// exactly (a constant of the variant, src/kernels/shader-variants.ts), as flash-fixed.wgsl is
// for the fused kernel: the query row is D4 named vec4s instead of a private array indexed by a
// loop counter, so a CPU implementation such as SwiftShader can keep it in registers. Same
// bindings, dispatch, grid and order of operations per cell as flash-reduce.wgsl. Assembled
// after common.wgsl.
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv (read), 2 lse (read, heads × seqLen),
// 3 grid (read_write, heads × rows × cols), 4 grid params (uniform).
// Dispatch: (ceil(cols / WG_X), grid rows in this chunk / WG_Y, heads): one invocation per cell,
// rows from gridParams.firstRow.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct GridParams {
  rows: u32,
  cols: u32,
  mode: u32, // 0: max, 1: mean
  firstRow: u32, // the dispatch covers grid rows firstRow … (long reductions run in chunks)
};

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> grid: array<f32>;
@group(0) @binding(4) var<uniform> gridParams: GridParams;

// Four consecutive elements of q or k (dHead is a multiple of 4 here).
fn at4(base: u32) -> vec4<f32> {
  return vec4<f32>(qkv[base], qkv[base + 1u], qkv[base + 2u], qkv[base + 3u]);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let run = params;
  let rows = gridParams.rows;
  let cols = gridParams.cols;
  let c = id.x;
  let r = gridParams.firstRow + id.y;
  let head = id.z;
  if (c >= cols || r >= rows) {
    return;
  }
  let seqLen = run.seqLen;
  let kvLen = run.kvLen;
  let width = run.width;
  let column = head * 4u * D4;
  let causal = run.causal == 1u;
  // Products n · length stay below 2^32 for grids ≤ 4096 per side and lengths ≤ 65536.
  let i0 = (r * seqLen) / rows;
  let i1 = ((r + 1u) * seqLen) / rows;
  let j0 = (c * kvLen) / cols;
  let j1 = ((c + 1u) * kvLen) / cols;

  var best = 0.0;
  var sum = 0.0;
  for (var i = i0; i < i1; i++) {
    let rowLse = lse[head * seqLen + i];
    let qRow = i * width + column;
    //#unroll e < D4: let q{e} = at4(qRow + {4 * e}u) * run.scale;
    var jEnd = j1;
    if (causal) {
      jEnd = min(j1, i + 1u);
    }
    for (var j = j0; j < jEnd; j++) {
      let kRow = run.kOffset + j * width + column;
      var s4 = vec4<f32>(0.0);
      //#unroll e < D4: s4 = fma(q{e}, at4(kRow + {4 * e}u), s4);
      let w = exp(s4.x + s4.y + s4.z + s4.w - rowLse);
      best = max(best, w);
      sum += w;
    }
  }
  let n = f32((i1 - i0) * (j1 - j0));
  grid[(head * rows + r) * cols + c] = select(best, sum / n, gridParams.mode == 1u);
}
