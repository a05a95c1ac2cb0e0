// scores.wgsl — S[h, i, j] = (Q_h[i] · K_h[j]) / sqrt(dHead), −∞ where causal masks j > i.
//
// Bindings (group 0): 0 params (common.wgsl), 1 qkv = q | k | v (read), 2 scores (read_write,
// heads × seqLen × kvLen). Layout: see common.wgsl.
// Dispatch: (ceil(kvLen / (WG_X·8)), ceil(seqLen / (WG_Y·8)), heads): all heads at once.
// Each invocation computes an 8 × 8 register tile (parts/tiles.wgsl: why 8 × 8) of queries
// strided by WG_Y and keys by WG_X, so neighbouring invocations read neighbouring keys. Tiles
// entirely above the causal diagonal skip the dot products and only write −∞.

//#include parts/tiles.wgsl

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let run = params;
  //#let ROWS = {MAP_TILE}
  //#let COLS = {MAP_TILE}
  //#let rowEnd = run.seqLen
  //#let colEnd = run.kvLen
  //#include parts/tile-start.wgsl
  let causal = run.causal == 1u;
  // The smallest key of this invocation is col0 and the largest query lastTileRow: if
  // col0 > lastTileRow every cell is masked and no dot product is needed.
  if (!(causal && col0 > lastTileRow)) {
    let column = group.z * run.dHead;
    //#each r < ROWS: let q{r} = min(row0 + {r}u * WG_Y, lastRow) * run.width + column;
    //#each c < COLS: let k{c} = run.kOffset + min(col0 + {c}u * WG_X, lastCol) * run.width + column;
    //#let rowLoad = qkv[q{r} + d]
    //#let colLoad = qkv[k{c} + d]
    for (var d = 0u; d < run.dHead; d++) {
      //#include parts/tile-step.wgsl
    }
  }

  let mapBase = group.z * run.seqLen * run.kvLen;
  let masked = negativeInfinity();
  //#let store = scores[mapBase + row * run.kvLen + col] = select(value * run.scale, masked, causal && col > row);
  //#include parts/tile-store.wgsl
}
