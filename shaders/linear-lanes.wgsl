// linear-lanes.wgsl — y = finish(x·W) for the model's linear steps and logits (src/kernels/
// model-linear.ts) as a lane-tile kernel (parts/lanes.wgsl: teams of 4 lanes that share loads
// through subgroupBroadcast, for adapters whose subgroups are 4 lanes wide, such as SwiftShader).
// Assembled after parts/lanes.wgsl, parts/rows-params.wgsl and the tile sizes TILE_ROWS,
// TILE_COLS (src/kernels/shader-variants.ts), then a weights part (how W is laid out:
// parts/weights-rows.wgsl for inDim × outDim, parts/weights-transposed.wgsl for wte's
// outDim × inDim), a weights storage part (parts/weights-f32.wgsl, -f16, -bf16: binding 2 and
// weightAt) and a finish part (parts/finish-bias.wgsl, finish-gelu.wgsl,
// finish-residual.wgsl, finish-store.wgsl).
//
// A team computes TILE_ROWS rows × TILE_COLS columns of y: per step k each lane loads
// TILE_ROWS/4 values of x (rows 4p + lane) and TILE_COLS/4 weights (columns lane + 4m), the x
// values reach the other lanes by subgroupBroadcast, and each lane accumulates TILE_ROWS ×
// TILE_COLS/4 sums. The register-tile kernel (linear.wgsl) loads 4 + TILE_ROWS values per
// 4·TILE_ROWS multiply-adds in every lane; here a lane loads (TILE_ROWS + TILE_COLS)/4 per
// TILE_ROWS·TILE_COLS/4. Teams past the edge compute with clamped indices and store what the
// cell's own team stores (no branches: a CPU implementation runs both sides of one).
//
// Bindings (group 0): 0 lin (RowsParams), 1 x (read, rows × inDim), 2 w (read), 3 y
// (read_write, rows × outDim), then the finish part's. Workgroup = 4 teams stacked along the
// rows; dispatch (ceil(outDim / TILE_COLS), ceil(rows / (4·TILE_ROWS)), 1).

@group(0) @binding(0) var<uniform> lin: RowsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(16, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) index: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let run = lin;
  let row0 = (group.y * 4u + index / 4u) * TILE_ROWS;
  let col0 = group.x * TILE_COLS;
  let lastRow = run.rows - 1u;
  let lastCol = run.outDim - 1u;
  let stride = weightStride(run);
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: var acc{r}_{m} = 0.0;
  //#unroll p < TILE_ROWS / 4: let ra{p} = min(row0 + lane + {4 * p}u, lastRow) * run.inDim;
  //#unroll m < TILE_COLS / 4: let cb{m} = weightBase(min(col0 + lane + {4 * m}u, lastCol), run);
  for (var k = 0u; k < run.inDim; k++) {
    //#unroll p < TILE_ROWS / 4: let a{p} = x[ra{p} + k];
    //#unroll m < TILE_COLS / 4: let b{m} = weightAt(cb{m} + k * stride);
    //#unroll r < TILE_ROWS
    {
      let xr = subgroupBroadcast(a{r / 4}, {r % 4}u);
      //#unroll m < TILE_COLS / 4: acc{r}_{m} = fma(xr, b{m}, acc{r}_{m});
    }
    //#end
  }
  //#unroll r < TILE_ROWS, m < TILE_COLS / 4: finish(min(row0 + {r}u, lastRow), min(col0 + lane + {4 * m}u, lastCol), run.outDim, acc{r}_{m});
}
