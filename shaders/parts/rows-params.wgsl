// parts/rows-params.wgsl — the uniform block of the model's row kernels (layernorm.wgsl,
// linear.wgsl): `rows` rows of `inDim` values in, `outDim` out (LayerNorm: outDim = inDim);
// `eps` is LayerNorm's (the linear kernels ignore it).
struct RowsParams {
  rows: u32,
  inDim: u32,
  outDim: u32,
  eps: f32,
};
