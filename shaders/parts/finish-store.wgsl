// parts/finish-store.wgsl — the end of linear-lanes.wgsl and linear-workgroup.wgsl for the
// logits (kernels logitsLanes, logitsWorkgroup): the sum stored as it is (no bias).

// Finish one output: store.
fn finish(row: u32, col: u32, outDim: u32, acc: f32) {
  y[row * outDim + col] = acc;
}
