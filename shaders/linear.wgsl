// linear.wgsl — y = x·W (+ b) for the model's forward pass (src/kernels/model.ts), with the
// variants the template variables select:
//   BIAS        + b (a bias per output column)
//   GELU        y = GELU(x·W + b), GPT-2's tanh form 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³)))
//   RESIDUAL    y = residual + x·W + b (the residual stream of a block)
//   TRANSPOSED  W given as outDim × inDim (row-major): y = x·Wᵀ (the logits, x·wteᵀ)
//
// Bindings (group 0): 0 lin (RowsParams), 1 x (read, rows × inDim), 2 w (read, inDim ×
// outDim, or outDim × inDim when TRANSPOSED), 3 y (read_write, rows × outDim), then with BIAS
// 4 bias (read, outDim), then with RESIDUAL residual (read, rows × outDim) at the next binding.
// Dispatch: (ceil(outDim / WG_X), ceil(rows / (WG_Y · LINEAR_ROWS)), 1). Each invocation
// computes one column of LINEAR_ROWS rows (rows strided by 1: row0 … row0 + LINEAR_ROWS − 1), so
// each weight it loads serves LINEAR_ROWS multiply-adds; rows past the edge are clamped for
// loading and not stored.

//#include parts/rows-params.wgsl

@group(0) @binding(0) var<uniform> lin: RowsParams;
//#each (slot, name) in (1, x), (2, w): @group(0) @binding({slot}) var<storage, read> {name}: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
//#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
//#end
//#if RESIDUAL
@group(0) @binding({4 + BIAS}) var<storage, read> residual: array<f32>;
//#end

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

//#if GELU
// tanh's argument is clamped to ±15, where tanh is ±1 in f32: an implementation that computes
// tanh from exp(2u) would otherwise give ∞/∞ = NaN for large |u|.
fn gelu(v: f32) -> f32 {
  let u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return 0.5 * v * (1.0 + tanh(clamp(u, -15.0, 15.0)));
}

//#end
// Finish one output: bias, activation or residual, store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  var value = acc;
  //#if BIAS
  value += bias[col];
  //#end
  //#if GELU
  value = gelu(value);
  //#end
  //#if RESIDUAL
  value += residual[row * outDim + col];
  //#end
  y[row * outDim + col] = value;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let run = lin;
  let col = id.x;
  let row0 = id.y * {LINEAR_ROWS}u;
  if (col >= run.outDim || row0 >= run.rows) {
    return;
  }
  let lastRow = run.rows - 1u;
  //#each r < LINEAR_ROWS: let x{r} = min(row0 + {r}u, lastRow) * run.inDim;
  //#each r < LINEAR_ROWS: var acc{r} = 0.0;
  for (var k = 0u; k < run.inDim; k++) {
    //#if TRANSPOSED
    let wk = w[col * run.inDim + k];
    //#else
    let wk = w[k * run.outDim + col];
    //#end
    //#each r < LINEAR_ROWS: acc{r} = fma(x[x{r} + k], wk, acc{r});
  }
  //#each r < LINEAR_ROWS: if (row0 + {r}u < run.rows) { finish(row0 + {r}u, col, run.outDim, acc{r}); }
}
