// embed.wgsl — the model's input, seqLen × dModel: x[t] = wte[token_t] + wpe[t] (`main`: GPT-2's
// learned token and position embeddings, src/kernels/model.ts), or x[t] = wte[token_t]
// (`tokensOnly`: the Llama family, whose positions are rotations of q and k, src/kernels/llama-model.ts;
// wpe is bound but not read; one dispatch per piece of a table split across bindings).
//
// Bindings (group 0): 0 embed (EmbedParams), 1 tokens (read, seqLen u32 ids, checked on the host
// to be < vocabSize), 2 w: the token table wte (read, vocabSize × dModel; declared with weightAt by
// the storage part that follows: parts/weights-f32.wgsl, or -f16 / -bf16 for 16-bit checkpoints), 3 wpe (read, context × dModel), 4 x
// (read_write, seqLen × dModel). Dispatch: flatDims(seqLen · dModel) (src/kernels/launch.ts): the
// element index is id.x + id.y · 64 · num_workgroups.x, so long sequences stay within the
// 65535 workgroups a dimension allows.

// `firstRow` and `rowCount`: the rows of the token table bound at binding 2 (`tokensOnly`: a table
// larger than one storage binding is split by rows, one dispatch per piece, each writing the
// tokens whose rows it holds; `main` reads the whole table: 0 and vocabSize).
struct EmbedParams {
  seqLen: u32,
  dModel: u32,
  firstRow: u32,
  rowCount: u32,
};

@group(0) @binding(0) var<uniform> embed: EmbedParams;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

fn item(i: u32) {
  let t = i / embed.dModel;
  x[i] = weightAt(tokens[t] * embed.dModel + i % embed.dModel) + wpe[i];
}

// One invocation per element of x.
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = id.x + id.y * groups.x * 64u;
  if (i < embed.seqLen * embed.dModel) {
    item(i);
  }
}

@compute @workgroup_size(64, 1, 1)
fn tokensOnly(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = id.x + id.y * groups.x * 64u;
  if (i < embed.seqLen * embed.dModel) {
    let token = tokens[i / embed.dModel];
    if (token >= embed.firstRow && token - embed.firstRow < embed.rowCount) {
      x[i] = weightAt((token - embed.firstRow) * embed.dModel + i % embed.dModel);
    }
  }
}
