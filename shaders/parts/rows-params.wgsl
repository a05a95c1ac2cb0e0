// parts/rows-params.wgsl — the uniform block of the model's row kernels (layernorm.wgsl,
// linear.wgsl): `rows` rows of `inDim` values in, `outDim` out (LayerNorm: outDim = inDim);
// `eps` is the norms' (the linear kernels ignore it). `outStride` and `outOffset` place the output
// of the kernels that store their sums as they are (parts/finish-store.wgsl: the logits, the Llama
// family's gate | up): row r, column c of this dispatch lands at r · outStride + outOffset + c, so
// a weight split by rows across bindings writes each piece's columns into one output
// (src/kernels/llama-model.ts). Everything else reads them as outDim and 0.
struct RowsParams {
  rows: u32,
  inDim: u32,
  outDim: u32,
  eps: f32,
  outStride: u32,
  outOffset: u32,
};
