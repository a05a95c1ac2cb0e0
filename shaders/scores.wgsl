// scores.wgsl — S[h, i, j] = (Q_h[i] · K_h[j]) / sqrt(dHead), −∞ where causal masks j > i.
// Assembled after common.wgsl, parts/tiles.wgsl and TILE_ROWS = TILE_COLS = 8 (src/kernels/shader-variants.ts).
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv = q | k | v (read), 2 scores (read_write,
// heads × seqLen × kvLen). Layout: see common.wgsl.
// Dispatch: (ceil(kvLen / (WG_X·TILE_COLS)), ceil(seqLen / (WG_Y·TILE_ROWS)), heads): all heads
// at once. Each invocation computes a register tile (parts/tiles.wgsl: why 8 × 8) of queries
// strided by WG_Y and keys by WG_X, so neighbouring invocations read neighbouring keys. Tiles
// entirely above the causal diagonal skip the dot products and only write −∞.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let run = params;
  let row0 = group.y * WG_Y * TILE_ROWS + local.y;
  let col0 = group.x * WG_X * TILE_COLS + local.x;
  if (row0 >= run.seqLen || col0 >= run.kvLen) {
    return;
  }
  let lastRow = run.seqLen - 1u;
  let lastCol = run.kvLen - 1u;
  let lastTileRow = min(row0 + (TILE_ROWS - 1u) * WG_Y, lastRow);
  //#unroll r < TILE_ROWS, h < TILE_COLS / 4: var acc{r}_{h} = vec4<f32>(0.0);
  let causal = run.causal == 1u;
  // The smallest key of this invocation is col0 and the largest query lastTileRow: if
  // col0 > lastTileRow every cell is masked and no dot product is needed.
  if (!(causal && col0 > lastTileRow)) {
    let column = group.z * run.dHead;
    //#unroll r < TILE_ROWS: let q{r} = min(row0 + {r}u * WG_Y, lastRow) * run.width + column;
    //#unroll c < TILE_COLS: let k{c} = run.kOffset + min(col0 + {c}u * WG_X, lastCol) * run.width + column;
    for (var d = 0u; d < run.dHead; d++) {
      //#unroll h < TILE_COLS / 4: let b{h} = vec4<f32>(qkv[k{4 * h} + d], qkv[k{4 * h + 1} + d], qkv[k{4 * h + 2} + d], qkv[k{4 * h + 3} + d]);
      //#unroll r < TILE_ROWS
      let a{r} = vec4<f32>(qkv[q{r} + d]);
      //#unroll h < TILE_COLS / 4: acc{r}_{h} = fma(a{r}, b{h}, acc{r}_{h});
      //#end
    }
  }

  let mapBase = group.z * run.seqLen * run.kvLen;
  let masked = negativeInfinity();
  let accs = array<vec4<f32>, TILE_ROWS * TILE_COLS / 4u>(
    //#unroll r < TILE_ROWS, h < TILE_COLS / 4: acc{r}_{h},
  );
  for (var r = 0u; r < TILE_ROWS; r++) {
    let row = row0 + r * WG_Y;
    if (row >= run.seqLen) {
      break;
    }
    for (var c = 0u; c < TILE_COLS; c++) {
      let col = col0 + c * WG_X;
      if (col < run.kvLen) {
        let value = accs[TILE_COLS / 4u * r + c / 4u][c & 3u];
        scores[mapBase + row * run.kvLen + col] = select(value * run.scale, masked, causal && col > row);
      }
    }
  }
}
