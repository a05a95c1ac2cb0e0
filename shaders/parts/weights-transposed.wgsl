// parts/weights-transposed.wgsl — how linear.wgsl, linear-lanes.wgsl and linear-workgroup.wgsl read
// W when it is outDim × inDim: the logits x·wteᵀ (wte, one row per token) and every linear step of
// the Llama family (nn.Linear's [out, in]). Weight (k, col) at weightBase(col) + k · weightStride,
// so a column of the product walks a row of W.
const W_TRANSPOSED = true;

fn weightBase(col: u32, run: RowsParams) -> u32 {
  return col * run.inDim;
}

fn weightStride(run: RowsParams) -> u32 {
  return 1u;
}
