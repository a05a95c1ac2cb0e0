// softmax-subgroup.wgsl — the softmax of softmax.wgsl with a workgroup per row (as its `main`),
// the merges done by subgroup operations and a single barrier (kernel `softmaxSubgroup`,
// compiled only on devices with the 'subgroups' feature). Assembled after parts/subgroups.wgsl,
// common.wgsl and parts/softmax-rows.wgsl (bindings, WG_SIZE, workgroup memory).
// Dispatch as softmax.wgsl's `main`.

// The merge of the states of a subgroup's invocations, in every one of them:
// m = subgroupMax(m_k), l = subgroupAdd(l_k · exp(m_k − m)), the onlineMerge of common.wgsl
// over all lanes at once. Identity states (LOWEST, 0) add 0 · exp(…) = 0 whatever m.
fn subgroupMerge(state: Online) -> Online {
  let m = subgroupMax(state.m);
  return Online(m, subgroupAdd(state.l * exp(state.m - m)));
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
  @builtin(subgroup_invocation_id) subLane: u32,
  @builtin(subgroup_size) subSize: u32,
) {
  // Uniform per workgroup, so returning here keeps the barrier and subgroup operations below in
  // uniform control flow.
  let row = group.y * groups.x + group.x;
  if (row >= params.rows) {
    return;
  }
  let r = softmaxRow(row);
  // Every invocation writes one slot of workgroup memory, indexed by its own
  // local_invocation_index: a subgroup's first invocation writes its subgroup's state, every
  // other one the identity. So no slot is shared, nothing relies on how invocations are laid out
  // into subgroups, and any subgroup size (4 … WG_SIZE, or larger with one partial subgroup)
  // works. Then every subgroup reads all WG_SIZE slots, strided over its lanes, and merges them
  // again, so every invocation holds the row's state without a second barrier (subgroups of
  // equal size compute the very same merge, so the workgroup agrees bit for bit).
  let partial = subgroupMerge(laneState(r, lane));
  let first = subLane == 0u;
  shareMax[lane] = select(LOWEST, partial.m, first);
  shareSum[lane] = select(0.0, partial.l, first);
  workgroupBarrier();
  var gathered = Online(LOWEST, 0.0);
  for (var k = subLane; k < WG_SIZE; k += subSize) {
    gathered = onlineMerge(gathered, Online(shareMax[k], shareSum[k]));
  }
  let total = subgroupMerge(gathered);
  writeLaneWeights(r, lane, total);
}
