// linear-workgroup.wgsl — y = finish(x·W) for the model's linear steps and logits (src/kernels/
// model-linear.ts) as a workgroup-memory tiled kernel, for hardware GPUs: a workgroup of
// GROUP_EDGE × GROUP_EDGE invocations computes a block of BLOCK_ROWS × BLOCK_COLS outputs,
// staging K_STEP columns of x and K_STEP rows of W at a time in workgroup memory so that each
// value read from storage serves GROUP_EDGE invocations (on a GPU a storage read costs far more
// than a read of workgroup memory; on a CPU implementation the barriers cost more than they save,
// hence linear-lanes.wgsl there). Each invocation keeps a TILE_ROWS × TILE_COLS register tile,
// rows strided by GROUP_EDGE and columns too (neighbouring invocations read neighbouring words).
// Assembled after parts/rows-params.wgsl and the sizes (src/kernels/shader-variants.ts), then a
// weights layout part (parts/weights-rows.wgsl or parts/weights-transposed.wgsl), a weights storage
// part (parts/weights-f32.wgsl, -f16, -bf16: binding 2 and weightAt) and a finish part.
//
// Bindings as linear-lanes.wgsl. Dispatch (ceil(outDim / BLOCK_COLS), ceil(rows / BLOCK_ROWS), 1).
// Values past the edge are staged as 0 (k) or clamped (rows, columns) and not stored.

@group(0) @binding(0) var<uniform> lin: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const BLOCK_ROWS = GROUP_EDGE * TILE_ROWS;
const BLOCK_COLS = GROUP_EDGE * TILE_COLS;
const THREADS = GROUP_EDGE * GROUP_EDGE;

// x's block as [k][row] and W's as [k][col]: the inner loop reads a row of each.
var<workgroup> xBlock: array<f32, K_STEP * BLOCK_ROWS>;
var<workgroup> wBlock: array<f32, K_STEP * BLOCK_COLS>;

@compute @workgroup_size(GROUP_EDGE, GROUP_EDGE, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>, @builtin(local_invocation_index) index: u32) {
  let run = lin;
  let row0 = group.y * BLOCK_ROWS;
  let col0 = group.x * BLOCK_COLS;
  let lastRow = run.rows - 1u;
  let lastCol = run.outDim - 1u;
  let lastK = run.inDim - 1u;
  let stride = weightStride(run);
  //#unroll r < TILE_ROWS, c < TILE_COLS: var acc{r}_{c} = 0.0;
  for (var k0 = 0u; k0 < run.inDim; k0 += K_STEP) {
    // Consecutive invocations read consecutive k of one row of x (contiguous in storage).
    for (var e = index; e < BLOCK_ROWS * K_STEP; e += THREADS) {
      let r = e / K_STEP;
      let k = k0 + e % K_STEP;
      xBlock[(e % K_STEP) * BLOCK_ROWS + r] = select(0.0, x[min(row0 + r, lastRow) * run.inDim + min(k, lastK)], k < run.inDim);
    }
    // Along what is contiguous in W: the columns of an inDim × outDim W, the k of wte's rows.
    for (var e = index; e < BLOCK_COLS * K_STEP; e += THREADS) {
      let c = select(e % BLOCK_COLS, e / K_STEP, W_TRANSPOSED);
      let kk = select(e / BLOCK_COLS, e % K_STEP, W_TRANSPOSED);
      let k = k0 + kk;
      wBlock[kk * BLOCK_COLS + c] = select(0.0, weightAt(weightBase(min(col0 + c, lastCol), run) + min(k, lastK) * stride), k < run.inDim);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < K_STEP; kk++) {
      //#unroll r < TILE_ROWS: let a{r} = xBlock[kk * BLOCK_ROWS + local.y + {r}u * GROUP_EDGE];
      //#unroll c < TILE_COLS: let b{c} = wBlock[kk * BLOCK_COLS + local.x + {c}u * GROUP_EDGE];
      //#unroll r < TILE_ROWS, c < TILE_COLS: acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});
    }
    workgroupBarrier();
  }
  //#unroll r < TILE_ROWS, c < TILE_COLS: { let row = row0 + local.y + {r}u * GROUP_EDGE; let col = col0 + local.x + {c}u * GROUP_EDGE; if (row < run.rows && col < run.outDim) { finish(row, col, run.outDim, acc{r}_{c}); } }
}
