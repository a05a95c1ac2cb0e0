// parts/finish-store.wgsl — the end of linear.wgsl, linear-lanes.wgsl and linear-workgroup.wgsl
// for the kernels that store the sum as it is, with no bias (logits, logitsLanes, logitsWorkgroup:
// GPT-2's logits, the Llama family's gate | up and logits). Column `col` of this dispatch lands at
// row · outStride + outOffset + col (parts/rows-params.wgsl): a weight held in several bindings,
// split by rows, writes each piece's columns into their place in one output.

// Finish one output: store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  y[row * lin.outStride + lin.outOffset + col] = acc;
}
