// scores-lanes.wgsl — S = QKᵀ/√dHead (as scores.wgsl) for adapters whose subgroups are 4 lanes
// wide: CPU implementations of WebGPU such as SwiftShader, where a subgroup is one SIMD register
// and each lane one element of it.
//
// Why another kernel: on such an adapter every storage load is a 4-element gather (with a
// bounds check) that costs far more than a multiply-add, and a barrier costs more still. In
// scores.wgsl each invocation loads 8 queries and 8 keys per step, and the 4 lanes of a SIMD
// register load the same query values 4 times over. Here the 4 lanes form a team that computes
// a TILE_ROWS × TILE_COLS block: per step of the dot product each lane loads TILE_ROWS/4 query
// values and TILE_COLS/4 key values (no value is loaded twice), the query values reach the
// other lanes with subgroupBroadcast (a register shuffle), and each lane accumulates
// TILE_ROWS × TILE_COLS/4 outputs (keys lane, lane+4, lane+8, …). Per multiply-add that is
// (1/TILE_COLS + 1/TILE_ROWS) loads instead of 1/4 (8 × 8 tiles): about 4× fewer at 32 × 32.
// One step per loop iteration: unrolled 4 deep it ran about 1.5× slower on SwiftShader.
//
// This file is a template: src/kernels/lane-tiles.ts expands the `//#` lines into straight-line
// code (named accumulators, no private arrays) for the tile size it is given:
//   //#each-row LINE    LINE once per load row p (0 … TILE_ROWS/4−1), {4p} = 4·p
//   //#each-col LINE    LINE once per load column m (0 … TILE_COLS/4−1), {4m} = 4·m
//   //#each-cell LINE   LINE once per accumulator ({acc}; row {r}, column offset {4m})
//   //#row-load EXPR    how lane-row p, step u is loaded ({p}, {u}); //#col-load: column m
//   //#step U           U unrolled steps of loads, broadcasts and multiply-adds
// Bindings and dispatch as scores.wgsl, except: workgroup = 16 teams (4 × 4) of 4 lanes,
// covering (4·TILE_ROWS) queries × (4·TILE_COLS) keys; dispatch (ceil(kvLen / (4·TILE_COLS)),
// ceil(seqLen / (4·TILE_ROWS)), heads). Needs subgroups exactly 4 lanes wide and made of
// consecutive invocations (the host checks the adapter); every condition that gates a
// broadcast is uniform across a team, which the uniformity analysis cannot see, hence the
// diagnostic directive.

enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let seqLen = params.seqLen;
  let kvLen = params.kvLen;
  let width = params.width;
  let dHead = params.dHead;
  let head = group.z;
  let team = index / 4u;
  let row0 = (group.y * 4u + team / 4u) * TILE_ROWS;
  let col0 = (group.x * 4u + team % 4u) * TILE_COLS;
  let lastQuery = seqLen - 1u;
  let lastKey = kvLen - 1u;
  let column = head * dHead;
  let causal = params.causal == 1u;
  let rowLast = min(row0 + TILE_ROWS - 1u, lastQuery);
  //#each-row let ra{p} = min(row0 + lane + {4p}u, lastQuery) * width + column;
  //#each-col let cb{m} = params.kOffset + min(col0 + lane + {4m}u, lastKey) * width + column;
  //#each-cell var {acc} = 0.0;
  //#row-load qkv[ra{p} + d + {u}u]
  //#col-load qkv[cb{m} + d + {u}u]
  // No branches (a CPU implementation runs both sides of one under a mask): teams past the
  // edge compute with clamped indices, so every value they store is the value the cell's own
  // team stores there. Blocks entirely above the causal diagonal run no steps and store −∞.
  let steps = select(dHead, 0u, causal && col0 > rowLast && col0 < kvLen);
  for (var d = 0u; d < steps; d++) {
    //#step 1
  }
  let scale = params.scale;
  let mapBase = head * seqLen * kvLen;
  let masked = negativeInfinity();
  //#each-cell { let i = min(row0 + {r}u, lastQuery); let j = min(col0 + lane + {4m}u, lastKey); scores[mapBase + i * kvLen + j] = select({acc} * scale, masked, causal && j > i); }
}
