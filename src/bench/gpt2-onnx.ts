/**
 * The GPT-2 forward pass as an ONNX graph (opset 17), built from a config and parameters in our
 * schema's names (src/model/schema.ts), for the onnxruntime-web peer of the model bench
 * (peer-ort.ts). It computes what src/model/forward.ts computes, with the standard operators a
 * GPT-2 export uses and that ORT's WebGPU execution provider runs:
 *
 *   x = Gather(wte, input_ids) + Gather(wpe, position_ids)                  T × d
 *   per block i:
 *     a   = LayerNormalization(x, ln_1)                                     ε 1e-5, last axis
 *     qkv = MatMul(a, c_attn.weight) + c_attn.bias                          T × 3d (Conv1D: [in, out])
 *     q, k, v = Split(Transpose(Reshape(qkv, [0, 3H, dHead]), [1, 0, 2]), [H, H, H])   H × T × dHead each
 *           (c_attn's columns are Q | K | V, head h owning h·dHead…: so rows 0…H−1 of the
 *            3H × T × dHead tensor are Q's heads, H…2H−1 K's, 2H…3H−1 V's)
 *     s   = Softmax(MatMul(q, Transpose(k, [0, 2, 1])) · 1/√dHead + attention_bias)   H × T × T
 *     o   = Reshape(Transpose(MatMul(s, v), [1, 0, 2]), [0, d])             heads side by side
 *     x   = x + MatMul(o, attn.c_proj.weight) + attn.c_proj.bias
 *     m   = MatMul(LayerNormalization(x, ln_2), mlp.c_fc.weight) + mlp.c_fc.bias
 *     g   = 0.5·m·(1 + Tanh(√(2/π)·(m + 0.044715·m·m·m)))                   GPT-2's "gelu_new"
 *     x   = x + MatMul(g, mlp.c_proj.weight) + mlp.c_proj.bias
 *   logits = Gemm(LayerNormalization(x, ln_f), wte, transB = 1)             T × vocab (tied output)
 *
 * The sequence length is a free dimension "T", so one session runs every length. The causal
 * mask is the input attention_bias (T × T: 0 on and below the diagonal, −1e9 above, see
 * {@link causalAttentionBias}): exp of a score 1e9 below the row's maximum is exactly 0 in f32,
 * as −∞ gives in our kernels. x³ is m·m·m, not Pow: a GPU pow of a negative base is undefined
 * in WGSL. The parameters go in as they are (no transposed copies): the initializers are views
 * of the caller's Float32Arrays.
 */
import { AttentionInputError } from '../core/errors';
import { checkModelParams, paramShapes, validateConfig, type GptConfig } from '../model/schema';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor } from './onnx-writer';

/** The graph's input and output names. */
export const GPT2_ONNX_IO = {
  /** int64 [T]: the token ids. */
  tokens: 'input_ids',
  /** int64 [T]: 0 … T − 1 (the rows of wpe). */
  positions: 'position_ids',
  /** float [T, T]: the additive causal mask ({@link causalAttentionBias}). */
  bias: 'attention_bias',
  /** float [T, vocab]. */
  logits: 'logits',
} as const;

/** The opset the graph is written for: 17 is the first with LayerNormalization. */
export const GPT2_ONNX_OPSET = 17;

/** The value the causal mask adds above the diagonal: far enough below any score that its exp is 0 in f32. */
export const MASKED_BIAS = -1e9;

/** The T × T additive causal mask: 0 where key j ≤ query i, {@link MASKED_BIAS} where j > i. */
export function causalAttentionBias(seqLen: number): Float32Array {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new AttentionInputError('seqLen', String(seqLen), 'an integer ≥ 1', 'shape');
  const bias = new Float32Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) bias.fill(MASKED_BIAS, i * seqLen + i + 1, (i + 1) * seqLen);
  return bias;
}

/** The graph's inputs for `tokens`: ids and positions as int64, and the causal mask. */
export function gpt2OnnxFeeds(tokens: readonly number[]): { ids: BigInt64Array; positions: BigInt64Array; bias: Float32Array } {
  const ids = new BigInt64Array(tokens.length);
  const positions = new BigInt64Array(tokens.length);
  for (let t = 0; t < tokens.length; t++) {
    ids[t] = BigInt(tokens[t]);
    positions[t] = BigInt(t);
  }
  return { ids, positions, bias: causalAttentionBias(tokens.length) };
}

/** Collects nodes and constants while the graph is written. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly constants: OnnxTensor[] = [];

  /** Add a node; returns its (single) output's name. */
  op(opType: string, name: string, inputs: readonly string[], attributes: OnnxAttribute[] = [], output = name): string {
    this.nodes.push({ opType, name, inputs, outputs: [output], ...(attributes.length > 0 ? { attributes } : {}) });
    return output;
  }

  /** A float scalar constant. */
  scalar(name: string, value: number): string {
    this.constants.push({ name, dims: [], type: 'float', data: Float32Array.of(value) });
    return name;
  }

  /** A 1-D int64 constant (shapes, split sizes). */
  ints(name: string, values: readonly number[]): string {
    this.constants.push({ name, dims: [values.length], type: 'int64', data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  }

  layerNorm(name: string, x: string, prefix: string): string {
    return this.op('LayerNormalization', name, [x, `${prefix}.weight`, `${prefix}.bias`], [
      { name: 'axis', kind: 'int', value: -1 },
      { name: 'epsilon', kind: 'float', value: 1e-5 },
    ]);
  }

  /** x·W + b for a Conv1D parameter pair `${prefix}.weight` [in, out], `${prefix}.bias` [out]. */
  linear(name: string, x: string, prefix: string): string {
    const product = this.op('MatMul', `${name}.matmul`, [x, `${prefix}.weight`]);
    return this.op('Add', name, [product, `${prefix}.bias`]);
  }
}

/**
 * The forward pass of `config` with `params` (schema names, Float32Array) as an ONNX model
 * (module comment). The parameters are checked against the schema first (a missing or
 * misshapen tensor throws ModelParamsError naming it). Encode it with encodeOnnxModel.
 */
export function gpt2OnnxModel(config: GptConfig, params: ReadonlyMap<string, Float32Array>): OnnxModel {
  const c = validateConfig(config);
  checkModelParams(c, params);
  for (const [name, data] of params) {
    if (!(data instanceof Float32Array)) throw new AttentionInputError(`params[${JSON.stringify(name)}]`, 'a Float64Array', 'Float32Array parameters (the ONNX graph stores f32)', 'type');
  }
  const { dModel: d, heads: H, layers, vocabSize } = c;
  const dHead = d / H;
  const g = new GraphBuilder();
  const qkvShape = g.ints('const.qkv_shape', [0, 3 * H, dHead]);
  const mergeShape = g.ints('const.merge_shape', [0, d]);
  const split = g.ints('const.split', [H, H, H]);
  const scale = g.scalar('const.scale', 1 / Math.sqrt(dHead));
  const half = g.scalar('const.half', 0.5);
  const one = g.scalar('const.one', 1);
  const cubic = g.scalar('const.gelu_cubic', 0.044715);
  const root = g.scalar('const.gelu_scale', Math.sqrt(2 / Math.PI));

  const tokens = g.op('Gather', 'embed.tokens', ['wte.weight', GPT2_ONNX_IO.tokens], [{ name: 'axis', kind: 'int', value: 0 }]);
  const positions = g.op('Gather', 'embed.positions', ['wpe.weight', GPT2_ONNX_IO.positions], [{ name: 'axis', kind: 'int', value: 0 }]);
  let x = g.op('Add', 'embed', [tokens, positions]);

  for (let i = 0; i < layers; i++) {
    const h = `h.${i}`;
    const a = g.layerNorm(`${h}.ln_1`, x, `${h}.ln_1`);
    const qkv = g.linear(`${h}.attn.qkv`, a, `${h}.attn.c_attn`);
    const byHead = g.op('Reshape', `${h}.attn.qkv_heads`, [qkv, qkvShape]);
    const headsFirst = g.op('Transpose', `${h}.attn.qkv_heads_first`, [byHead], [{ name: 'perm', kind: 'ints', value: [1, 0, 2] }]);
    const [q, k, v] = ['q', 'k', 'v'].map((part) => `${h}.attn.${part}`);
    g.nodes.push({ opType: 'Split', name: `${h}.attn.split`, inputs: [headsFirst, split], outputs: [q, k, v], attributes: [{ name: 'axis', kind: 'int', value: 0 }] });
    const kT = g.op('Transpose', `${h}.attn.k_t`, [k], [{ name: 'perm', kind: 'ints', value: [0, 2, 1] }]);
    const raw = g.op('MatMul', `${h}.attn.qk`, [q, kT]);
    const scaled = g.op('Mul', `${h}.attn.scaled`, [raw, scale]);
    const masked = g.op('Add', `${h}.attn.masked`, [scaled, GPT2_ONNX_IO.bias]);
    const weights = g.op('Softmax', `${h}.attn.weights`, [masked], [{ name: 'axis', kind: 'int', value: -1 }]);
    const pv = g.op('MatMul', `${h}.attn.pv`, [weights, v]);
    const tokensFirst = g.op('Transpose', `${h}.attn.tokens_first`, [pv], [{ name: 'perm', kind: 'ints', value: [1, 0, 2] }]);
    const merged = g.op('Reshape', `${h}.attn.merged`, [tokensFirst, mergeShape]);
    const attnOut = g.linear(`${h}.attn.out`, merged, `${h}.attn.c_proj`);
    x = g.op('Add', `${h}.resid1`, [x, attnOut]);

    const b = g.layerNorm(`${h}.ln_2`, x, `${h}.ln_2`);
    const m = g.linear(`${h}.mlp.pre`, b, `${h}.mlp.c_fc`);
    const m2 = g.op('Mul', `${h}.mlp.gelu.sq`, [m, m]);
    const m3 = g.op('Mul', `${h}.mlp.gelu.cube`, [m2, m]);
    const inner = g.op('Add', `${h}.mlp.gelu.inner`, [m, g.op('Mul', `${h}.mlp.gelu.cube_scaled`, [m3, cubic])]);
    const t = g.op('Tanh', `${h}.mlp.gelu.tanh`, [g.op('Mul', `${h}.mlp.gelu.arg`, [inner, root])]);
    const act = g.op('Mul', `${h}.mlp.gelu`, [g.op('Mul', `${h}.mlp.gelu.half_x`, [m, half]), g.op('Add', `${h}.mlp.gelu.one_plus`, [t, one])]);
    const mlpOut = g.linear(`${h}.mlp.out`, act, `${h}.mlp.c_proj`);
    x = g.op('Add', `${h}.resid2`, [x, mlpOut]);
  }
  const lnF = g.layerNorm('ln_f', x, 'ln_f');
  g.op('Gemm', 'lm_head', [lnF, 'wte.weight'], [{ name: 'transB', kind: 'int', value: 1 }], GPT2_ONNX_IO.logits);

  const weights: OnnxTensor[] = [];
  for (const [name, dims] of paramShapes(c)) weights.push({ name, dims, type: 'float', data: params.get(name)! });
  return {
    irVersion: 8,
    opset: GPT2_ONNX_OPSET,
    producerName: 'attention-lens',
    graph: {
      name: 'gpt2',
      nodes: g.nodes,
      initializers: [...weights, ...g.constants],
      inputs: [
        { name: GPT2_ONNX_IO.tokens, type: 'int64', shape: ['T'] },
        { name: GPT2_ONNX_IO.positions, type: 'int64', shape: ['T'] },
        { name: GPT2_ONNX_IO.bias, type: 'float', shape: ['T', 'T'] },
      ],
      outputs: [{ name: GPT2_ONNX_IO.logits, type: 'float', shape: ['T', vocabSize] }],
    },
  };
}
