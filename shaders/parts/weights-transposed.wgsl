// parts/weights-transposed.wgsl — how linear-lanes.wgsl and linear-workgroup.wgsl read W for the
// logits x·wteᵀ: W is outDim × inDim (wte, one row per token), weight (k, col) at
// weightBase(col) + k · weightStride, so a column of the product walks a row of wte.
const W_TRANSPOSED = true;

fn weightBase(col: u32, run: RowsParams) -> u32 {
  return col * run.inDim;
}

fn weightStride(run: RowsParams) -> u32 {
  return 1u;
}
