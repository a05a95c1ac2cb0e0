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
// Dispatch: (ceil(outDim / (WG_X · LINEAR_COLS)), ceil(rows / (WG_Y · LINEAR_ROWS)), 1). Each
// invocation computes a register tile of LINEAR_ROWS rows × LINEAR_COLS (4) adjacent columns,
// with no workgroup memory and no barriers (cheap on CPU-backed adapters such as SwiftShader):
// each x value it loads serves 4 multiply-adds (one per column, as one vec4 fma) and each
// weight LINEAR_ROWS. Rows and columns past the edge are clamped for loading and not stored.

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
  let col0 = id.x * {LINEAR_COLS}u;
  let row0 = id.y * {LINEAR_ROWS}u;
  if (col0 >= run.outDim || row0 >= run.rows) {
    return;
  }
  let lastRow = run.rows - 1u;
  let lastCol = run.outDim - 1u;
  //#each r < LINEAR_ROWS: let x{r} = min(row0 + {r}u, lastRow) * run.inDim;
  //#each r < LINEAR_ROWS: var acc{r} = vec4<f32>(0.0);
  //#if TRANSPOSED
  // W is outDim × inDim: the tile's 4 columns are 4 rows of W.
  //#each c < LINEAR_COLS: let w{c} = min(col0 + {c}u, lastCol) * run.inDim;
  //#else
  //#each c < LINEAR_COLS: let c{c} = min(col0 + {c}u, lastCol);
  //#end
  for (var k = 0u; k < run.inDim; k++) {
    //#if TRANSPOSED
    let wk = vec4<f32>(w[w0 + k], w[w1 + k], w[w2 + k], w[w3 + k]);
    //#else
    let row = k * run.outDim;
    let wk = vec4<f32>(w[row + c0], w[row + c1], w[row + c2], w[row + c3]);
    //#end
    //#each r < LINEAR_ROWS: acc{r} = fma(vec4<f32>(x[x{r} + k]), wk, acc{r});
  }
  //#each r < LINEAR_ROWS: if (row0 + {r}u < run.rows) { finishTile(row0 + {r}u, col0, run.outDim, acc{r}); }
}

// Store the tile's row: the columns inside the output.
fn finishTile(row: u32, col0: u32, outDim: u32, acc: vec4<f32>) {
  //#each c < LINEAR_COLS: if (col0 + {c}u < outDim) { finish(row, col0 + {c}u, outDim, acc[{c}]); }
}
