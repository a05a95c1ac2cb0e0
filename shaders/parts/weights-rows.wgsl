// parts/weights-rows.wgsl — how linear.wgsl, linear-lanes.wgsl and linear-workgroup.wgsl read W
// for GPT-2's linear steps (c_proj, c_fc, the MLP's c_proj): W is inDim × outDim (GPT-2's Conv1D [in, out]),
// weight (k, col) at weightBase(col) + k · weightStride.
const W_TRANSPOSED = false;

fn weightBase(col: u32, run: RowsParams) -> u32 {
  return col;
}

fn weightStride(run: RowsParams) -> u32 {
  return run.outDim;
}
