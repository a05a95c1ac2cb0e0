// linear.wgsl — y = finish(x·W) for the model's forward passes (src/kernels/model.ts,
// src/kernels/llama-model.ts) as a register tile per invocation. Assembled after
// parts/rows-params.wgsl and TILE_ROWS (src/kernels/shader-variants.ts), then a weights layout part (how W
// is laid out: parts/weights-rows.wgsl for GPT-2's Conv1D inDim × outDim, parts/weights-transposed.wgsl
// for nn.Linear's and wte's outDim × inDim), a weights storage part (binding 2 and weightAt:
// parts/weights-f32.wgsl, or weights-f16.wgsl / weights-bf16.wgsl for 16-bit checkpoints) and one
// of the parts that define `finish` (what happens
// to a sum before it is stored) and the bindings it needs:
//   parts/finish-bias.wgsl      y = x·W + b                               (kernels linear, linearT)
//   parts/finish-gelu.wgsl      y = GELU(x·W + b)                         (kernel linearGelu)
//   parts/finish-residual.wgsl  y = residual + x·W + b, the residual stream (linearResidual, linearTResidual)
//   parts/finish-store.wgsl     y = x·W                                   (kernel logits: x·wteᵀ)
//
// Bindings (group 0): 0 lin (RowsParams, parts/rows-params.wgsl), 1 x (read, rows × inDim),
// 2 w (read, declared by the storage part, laid out as the layout part says), 3 y (read_write, rows × outDim), then the finish part's.
// Dispatch: (ceil(outDim / (WG_X · 4)), ceil(rows / (WG_Y · TILE_ROWS)), 1). Each invocation
// computes a register tile of TILE_ROWS rows × 4 adjacent columns (one vec4: LINEAR_COLS in
// src/kernels/launch.ts is 4), with no workgroup memory and no barriers (cheap on CPU-backed
// adapters such as SwiftShader): each x value it loads serves 4 multiply-adds (one per column,
// as one vec4 fma) and each weight TILE_ROWS. Rows and columns past the edge are clamped for
// loading and not stored.

@group(0) @binding(0) var<uniform> lin: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let run = lin;
  let col0 = id.x * 4u;
  let row0 = id.y * TILE_ROWS;
  if (col0 >= run.outDim || row0 >= run.rows) {
    return;
  }
  let lastRow = run.rows - 1u;
  let lastCol = run.outDim - 1u;
  //#unroll r < TILE_ROWS: let x{r} = min(row0 + {r}u, lastRow) * run.inDim;
  //#unroll r < TILE_ROWS: var acc{r} = vec4<f32>(0.0);
  let stride = weightStride(run);
  let c0 = weightBase(min(col0 + 0u, lastCol), run);
  let c1 = weightBase(min(col0 + 1u, lastCol), run);
  let c2 = weightBase(min(col0 + 2u, lastCol), run);
  let c3 = weightBase(min(col0 + 3u, lastCol), run);
  for (var k = 0u; k < run.inDim; k++) {
    let at = k * stride;
    let wk = vec4<f32>(weightAt(c0 + at), weightAt(c1 + at), weightAt(c2 + at), weightAt(c3 + at));
    //#unroll r < TILE_ROWS: acc{r} = fma(vec4<f32>(x[x{r} + k]), wk, acc{r});
  }
  //#unroll r < TILE_ROWS: if (row0 + {r}u < run.rows) { finishTile(row0 + {r}u, col0, run.outDim, acc{r}); }
}

// Store the tile's row: the columns inside the output.
fn finishTile(row: u32, col0: u32, outDim: u32, acc: vec4<f32>) {
  if (col0 + 0u < outDim) { finish(row, col0 + 0u, outDim, acc[0]); }
  if (col0 + 1u < outDim) { finish(row, col0 + 1u, outDim, acc[1]); }
  if (col0 + 2u < outDim) { finish(row, col0 + 2u, outDim, acc[2]); }
  if (col0 + 3u < outDim) { finish(row, col0 + 3u, outDim, acc[3]); }
}
