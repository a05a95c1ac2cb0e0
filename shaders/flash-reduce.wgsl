// flash-reduce.wgsl — the display map of the fused path: each cell of a heads × rows × cols
// grid is the max or mean of the softmax weights over its block of the (never stored) map,
// recomputed as w[i, j] = exp(q_i·k_j/√dHead − lse_i) from q, k and each row's log-sum-exp.
// Blocks follow blockStart(n) = ⌊n · length / cells⌋ (src/reference/reduce.ts); masked entries
// are zeros that count, as in the `weights` plane of reduceAttention. Assembled after
// common.wgsl, then parts/qkv-load.wgsl (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv (read), 2 lse (read,
// heads × seqLen), 3 grid (read_write, heads × rows × cols), 4 grid params (uniform).
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

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let rows = gridParams.rows;
  let cols = gridParams.cols;
  let c = id.x;
  let r = gridParams.firstRow + id.y;
  let head = id.z;
  if (c >= cols || r >= rows) {
    return;
  }
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let d4 = (dHead + 3u) / 4u;
  let column = head * dHead;
  let causal = params.causal == 1u;
  // Products n · length stay below 2^32 for grids ≤ 4096 per side and lengths ≤ 65536.
  let i0 = (r * seqLen) / rows;
  let i1 = ((r + 1u) * seqLen) / rows;
  let j0 = (c * kvLen) / cols;
  let j1 = ((c + 1u) * kvLen) / cols;

  var best = 0.0;
  var sum = 0.0;
  var q: array<vec4<f32>, MAX_D4>;
  for (var i = i0; i < i1; i++) {
    let rowLse = lse[head * seqLen + i];
    for (var e = 0u; e < d4; e++) {
      q[e] = load4(i * width + column, e, dHead) * params.scale;
    }
    var jEnd = j1;
    if (causal) {
      jEnd = min(j1, i + 1u);
    }
    for (var j = j0; j < jEnd; j++) {
      let kRow = params.kOffset + j * width + column;
      var s4 = vec4<f32>(0.0);
      for (var e = 0u; e < d4; e++) {
        s4 = fma(q[e], load4(kRow, e, dHead), s4);
      }
      let w = exp(s4.x + s4.y + s4.z + s4.w - rowLse);
      best = max(best, w);
      sum += w;
    }
  }
  let n = f32((i1 - i0) * (j1 - j0));
  grid[(head * rows + r) * cols + c] = select(best, sum / n, gridParams.mode == 1u);
}
