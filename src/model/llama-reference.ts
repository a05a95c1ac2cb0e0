/**
 * The Llama family (Llama 2/3, TinyLlama, SmolLM2, Qwen2/2.5) in Float64: its configuration, the
 * names and shapes of its tensors as Hugging Face checkpoints write them, and the forward
 * reference of one sequence with every intermediate, so a GPU forward can be checked layer by
 * layer and in the logits. Written from the architecture (transformers' modeling_llama.py and
 * modeling_qwen2.py describe it), independently of the GPT-2 path.
 *
 * One block, x the residual stream (T tokens × dModel):
 *   h = RMSNorm(x)·w₁  (x / √(mean(x²) + ε), then the weight; no mean, no bias)
 *   q = h·W_qᵀ (+ b_q), k = h·W_kᵀ (+ b_k), v = h·W_vᵀ (+ b_v)   nn.Linear weights are [out, in]
 *   q, k ← RoPE by position (rope.ts); v is not rotated
 *   query head i attends with key/value head ⌊i / (heads / kvHeads)⌋ (grouped-query attention:
 *   HF's repeat_kv repeats each kv head for a run of consecutive query heads)
 *   P = causal softmax(q·kᵀ / √headDim), a = P·v, x ← x + a·W_oᵀ (+ b_o)
 *   h = RMSNorm(x)·w₂, x ← x + W_down·(silu(W_gate·h) ⊙ W_up·h)     SwiGLU, silu(z) = z·σ(z)
 * then logits = RMSNorm(x)·w_f · W_lmᵀ, with W_lm = embed_tokens when the embeddings are tied.
 * The input is embed_tokens[token]: no position embedding (RoPE carries positions), no scaling.
 *
 * This file holds the config type and the tensor schema (not src/pretrained/llama-config.ts,
 * which parses config.json into them) because src/pretrained builds on src/model: the reverse
 * import would be a folder cycle (.dependency-cruiser.cjs).
 *
 * Pure TypeScript: runs in Node and in workers (no DOM, no WebGPU).
 */
import { AttentionInputError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import { matmulNT } from './matmul';
import { applyRope, checkRopeConfig, ropeInverseFrequencies, type RopeConfig } from './rope';
import { checkTokenIds, describeValue, type Floats } from './schema';

/** The architectures read from config.json's model_type. */
export type LlamaModelType = 'llama' | 'qwen2';

/**
 * A Llama-family model's sizes and computation (what config.json says, in the names of
 * ModelConfig where a size means the same thing). headDim may differ from dModel / heads.
 */
export interface LlamaConfig extends RopeConfig {
  /** config.json's model_type. */
  modelType: LlamaModelType;
  /** Token ids: rows of embed_tokens (and of lm_head). */
  vocabSize: number;
  /** Longest sequence the model was configured for (max_position_embeddings). */
  context: number;
  /** Width of the residual stream (hidden_size). */
  dModel: number;
  /** Query heads per block (num_attention_heads). */
  heads: number;
  /** Key/value heads per block (num_key_value_heads); divides heads. */
  kvHeads: number;
  /** Blocks (num_hidden_layers). */
  layers: number;
  /** Width of the SwiGLU's hidden layer (intermediate_size). */
  dMlp: number;
  /** RMSNorm's ε (rms_norm_eps). */
  rmsNormEps: number;
  /** lm_head shares embed_tokens' weights (tie_word_embeddings): no lm_head.weight tensor. */
  tiedEmbeddings: boolean;
  /** q_proj, k_proj and v_proj have biases (Qwen2 always; Llama with attention_bias). */
  qkvBias: boolean;
  /** o_proj has a bias (Llama with attention_bias; never Qwen2). */
  oBias: boolean;
}

const SIZE_FIELDS = ['vocabSize', 'context', 'dModel', 'heads', 'kvHeads', 'layers', 'dMlp'] as const;

/**
 * Check a {@link LlamaConfig} made in code (config.json goes through parseLlamaConfig, which
 * names the JSON fields instead): every size an integer from 1 to MAX_ELEMENTS, kvHeads dividing
 * heads, RoPE's fields ({@link checkRopeConfig}), ε finite and > 0, the three flags booleans, and
 * the largest tensor within MAX_ELEMENTS. Throws {@link AttentionInputError} naming the field.
 */
export function checkLlamaConfig(config: LlamaConfig): void {
  if (typeof config !== 'object' || config === null) {
    throw new AttentionInputError('config', describeValue(config), 'a LlamaConfig object (parseLlamaConfig reads one from config.json)', 'type');
  }
  if (config.modelType !== 'llama' && config.modelType !== 'qwen2') {
    throw new AttentionInputError('modelType', describeValue(config.modelType), '"llama" or "qwen2"', 'type');
  }
  for (const field of SIZE_FIELDS) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ELEMENTS) {
      throw new AttentionInputError(field, describeValue(value), `an integer from 1 to ${MAX_ELEMENTS}`, 'shape');
    }
  }
  if (config.heads % config.kvHeads !== 0) {
    throw new AttentionInputError('kvHeads', String(config.kvHeads), `a divisor of heads ${config.heads} (each key/value head serves heads / kvHeads query heads)`, 'shape');
  }
  checkRopeConfig(config);
  if (typeof config.rmsNormEps !== 'number' || !Number.isFinite(config.rmsNormEps) || config.rmsNormEps <= 0) {
    throw new AttentionInputError('rmsNormEps', describeValue(config.rmsNormEps), 'a finite number > 0 (1e-5 or 1e-6 in these models)', 'type');
  }
  for (const flag of ['tiedEmbeddings', 'qkvBias', 'oBias'] as const) {
    if (typeof config[flag] !== 'boolean') throw new AttentionInputError(flag, describeValue(config[flag]), 'true or false', 'type');
  }
  const { vocabSize, dModel, heads, headDim, dMlp } = config;
  const largest = Math.max(vocabSize * dModel, heads * headDim * dModel, dMlp * dModel);
  if (largest > MAX_ELEMENTS) {
    throw new AttentionInputError('config', `a tensor of ${largest} values`, `at most ${MAX_ELEMENTS} values per tensor`, 'too-large');
  }
}

/**
 * Every tensor of the model by its Hugging Face name, with its shape, in the order of the
 * model's state dict: model.embed_tokens.weight [vocab, d]; per layer i,
 * model.layers.{i}.input_layernorm.weight [d], self_attn.q_proj.weight [heads·headDim, d]
 * (+ .bias [heads·headDim] with qkvBias), k_proj / v_proj [kvHeads·headDim, d] (+ biases),
 * o_proj.weight [d, heads·headDim] (+ .bias [d] with oBias), post_attention_layernorm.weight [d],
 * mlp.gate_proj.weight and mlp.up_proj.weight [dMlp, d], mlp.down_proj.weight [d, dMlp]; then
 * model.norm.weight [d] and, unless tied, lm_head.weight [vocab, d]. Linear weights are
 * nn.Linear's [out, in]. Throws {@link AttentionInputError} for a config
 * {@link checkLlamaConfig} refuses.
 */
export function llamaTensorShapes(config: LlamaConfig): Map<string, number[]> {
  checkLlamaConfig(config);
  const { vocabSize, dModel: d, heads, kvHeads, headDim, dMlp, layers } = config;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [vocabSize, d]]]);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [d]);
    for (const [name, out] of [['q', heads * headDim], ['k', kvHeads * headDim], ['v', kvHeads * headDim]] as const) {
      shapes.set(`${p}.self_attn.${name}_proj.weight`, [out, d]);
      if (config.qkvBias) shapes.set(`${p}.self_attn.${name}_proj.bias`, [out]);
    }
    shapes.set(`${p}.self_attn.o_proj.weight`, [d, heads * headDim]);
    if (config.oBias) shapes.set(`${p}.self_attn.o_proj.bias`, [d]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [dMlp, d]);
    shapes.set(`${p}.mlp.up_proj.weight`, [dMlp, d]);
    shapes.set(`${p}.mlp.down_proj.weight`, [d, dMlp]);
  }
  shapes.set('model.norm.weight', [d]);
  if (!config.tiedEmbeddings) shapes.set('lm_head.weight', [vocabSize, d]);
  return shapes;
}

/**
 * Check that `params` holds exactly the tensors of {@link llamaTensorShapes}: each a
 * Float32Array or Float64Array of product(shape) finite values, nothing missing, nothing extra
 * (a bias given to a config without biases would otherwise be ignored without a word). Throws
 * {@link AttentionInputError} whose field is `params["name"]` (`params["name"][i]` for a value).
 */
export function checkLlamaParams(config: LlamaConfig, params: ReadonlyMap<string, Floats>): void {
  if (!(params instanceof Map)) throw new AttentionInputError('params', describeValue(params), 'a Map from tensor name to Float32Array or Float64Array', 'type');
  const shapes = llamaTensorShapes(config);
  const advice = 'pass the config the tensors were made for (parseLlamaConfig of the checkpoint\'s config.json)';
  for (const [name, shape] of shapes) {
    const field = `params[${JSON.stringify(name)}]`;
    const data: unknown = params.get(name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new AttentionInputError(field, data === undefined ? 'nothing' : describeValue(data), `a Float32Array or Float64Array of ${count} values (shape [${shape.join(', ')}]): ${advice}`, 'type');
    }
    if (data.length !== count) throw new AttentionInputError(field, `length ${data.length}`, `length ${count} (shape [${shape.join(', ')}]): ${advice}`, 'length');
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new AttentionInputError(`${field}[${i}]`, describeValue(data[i]), 'a finite number: the checkpoint is damaged or diverged', 'non-finite');
    }
  }
  for (const name of params.keys()) {
    if (!shapes.has(name)) throw new AttentionInputError(`params[${JSON.stringify(name)}]`, 'an extra tensor', `only the names of llamaTensorShapes(config): ${advice}`, 'type');
  }
}

/**
 * Every intermediate of one block for T tokens, in Float64, row-major. "Heads side by side"
 * means head h owns columns h·headDim…(h+1)·headDim − 1 of its row.
 */
export interface LlamaLayerTrace {
  /** The block's input x, T × dModel. */
  input: Float64Array;
  /** RMSNorm(input)·input_layernorm.weight, T × dModel. */
  norm1: Float64Array;
  /** q_proj(norm1) before RoPE, T × heads·headDim, heads side by side. */
  qPre: Float64Array;
  /** k_proj(norm1) before RoPE, T × kvHeads·headDim, heads side by side. */
  kPre: Float64Array;
  /** qPre rotated by position (what the scores use), T × heads·headDim. */
  q: Float64Array;
  /** kPre rotated by position, T × kvHeads·headDim (key/value heads, not repeated). */
  k: Float64Array;
  /** v_proj(norm1), T × kvHeads·headDim (not rotated, not repeated). */
  v: Float64Array;
  /** heads × T × T, per query head: q·kᵀ/√headDim with its kv head, −Infinity where key j > query i. */
  scores: Float64Array;
  /** heads × T × T: row softmax of scores, 0 where masked. */
  weights: Float64Array;
  /** weights·v per query head, T × heads·headDim, heads side by side (o_proj's input). */
  attn: Float64Array;
  /** o_proj(attn), T × dModel. */
  attnOut: Float64Array;
  /** input + attnOut, T × dModel. */
  resid1: Float64Array;
  /** RMSNorm(resid1)·post_attention_layernorm.weight, T × dModel. */
  norm2: Float64Array;
  /** silu(gate_proj(norm2)) ⊙ up_proj(norm2), T × dMlp (down_proj's input). */
  mlpAct: Float64Array;
  /** down_proj(mlpAct), T × dModel. */
  mlpOut: Float64Array;
  /** resid1 + mlpOut, T × dModel: the block's output (the next block's input). */
  output: Float64Array;
}

/** The whole forward pass of one sequence, in Float64 (see {@link llamaForwardReference}). */
export interface LlamaTrace {
  config: LlamaConfig;
  tokens: number[];
  /** The rotation frequencies used, length headDim / 2 (ropeInverseFrequencies(config)). */
  invFreq: Float64Array;
  /** embed_tokens[token], T × dModel: the first block's input. */
  embed: Float64Array;
  layers: LlamaLayerTrace[];
  /** RMSNorm(last block's output)·model.norm.weight, T × dModel. */
  finalNorm: Float64Array;
  /** finalNorm·W_lmᵀ, T × vocabSize (row t predicts token t + 1). */
  logits: Float64Array;
}

/** x (rows × width) normalised by each row's root mean square, times `weight` (width). */
function rmsNorm(x: Float64Array, weight: Floats, rows: number, width: number, eps: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let t = 0; t < rows; t++) {
    const at = t * width;
    let sumSq = 0;
    for (let j = 0; j < width; j++) sumSq += x[at + j] * x[at + j];
    const scale = 1 / Math.sqrt(sumSq / width + eps);
    for (let j = 0; j < width; j++) out[at + j] = x[at + j] * scale * weight[j];
  }
  return out;
}

/** y (rows × nOut) = x (rows × nIn) · Wᵀ + b, W in nn.Linear's [nOut, nIn] layout: matmulNT reads it as is. */
function linear(x: Float64Array, w: Floats, b: Floats | undefined, rows: number, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(rows * nOut);
  // Sums are kept in double whatever the storage of W (matmul.ts), so Float32 weights lose nothing here.
  matmulNT(x, 0, nIn, w, 0, nIn, y, 0, nOut, rows, nOut, nIn, false);
  if (b !== undefined) for (let t = 0; t < rows; t++) for (let j = 0; j < nOut; j++) y[t * nOut + j] += b[j];
  return y;
}

/** a + b, elementwise, into a new array. */
function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/**
 * Causal grouped-query attention of one block: fills scores and weights (heads × T × T) and
 * returns attn (T × heads·headDim). Query head h reads kv head ⌊h / group⌋.
 */
function attention(config: LlamaConfig, q: Float64Array, k: Float64Array, v: Float64Array, T: number, scores: Float64Array, weights: Float64Array): Float64Array {
  const { heads, kvHeads, headDim: hd } = config;
  const group = heads / kvHeads;
  const qWidth = heads * hd;
  const kvWidth = kvHeads * hd;
  const scale = 1 / Math.sqrt(hd);
  const attn = new Float64Array(T * qWidth);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / group);
    const map = h * T * T;
    for (let i = 0; i < T; i++) {
      const row = map + i * T;
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = 0; c < hd; c++) dot += q[i * qWidth + h * hd + c] * k[j * kvWidth + g * hd + c];
        scores[row + j] = dot * scale;
        if (scores[row + j] > max) max = scores[row + j];
      }
      for (let j = i + 1; j < T; j++) scores[row + j] = -Infinity;
      // Subtracting the row's maximum keeps exp() from overflowing; the softmax is unchanged.
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        weights[row + j] = Math.exp(scores[row + j] - max);
        sum += weights[row + j];
      }
      for (let j = 0; j <= i; j++) weights[row + j] /= sum;
      const out = i * qWidth + h * hd;
      for (let j = 0; j <= i; j++) {
        const p = weights[row + j];
        for (let c = 0; c < hd; c++) attn[out + c] += p * v[j * kvWidth + g * hd + c];
      }
    }
  }
  return attn;
}

/**
 * The forward pass of one sequence in Float64 with every intermediate (module comment for the
 * computation, {@link LlamaTrace} for the layouts). Tokens sit at positions 0…T−1. Throws
 * {@link AttentionInputError} for a config {@link checkLlamaConfig} refuses, parameters
 * {@link checkLlamaParams} refuses, `tokens` empty or longer than the context (`tokens`), or an
 * id outside [0, vocabSize) (`tokens[i]`).
 */
export function llamaForwardReference(config: LlamaConfig, params: ReadonlyMap<string, Floats>, tokens: readonly number[] | Int32Array): LlamaTrace {
  checkLlamaParams(config, params);
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
    throw new AttentionInputError('tokens', describeValue(tokens), 'an array of token ids', 'type');
  }
  if (tokens.length < 1 || tokens.length > config.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${config.context} tokens (the model's context)`, 'length');
  }
  checkTokenIds('tokens', tokens, config.vocabSize);

  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, rmsNormEps: eps } = config;
  const T = tokens.length;
  const get = (name: string): Floats => params.get(name)!;
  const invFreq = ropeInverseFrequencies(config);
  const positions = Array.from({ length: T }, (_, t) => t);
  const embedTable = get('model.embed_tokens.weight');

  const embed = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) embed[t * d + j] = embedTable[tokens[t] * d + j];

  const layers: LlamaLayerTrace[] = [];
  let x: Float64Array = embed;
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const bias = (name: string): Floats | undefined => params.get(`${p}.self_attn.${name}_proj.bias`);
    const norm1 = rmsNorm(x, get(`${p}.input_layernorm.weight`), T, d, eps);
    const qPre = linear(norm1, get(`${p}.self_attn.q_proj.weight`), bias('q'), T, d, heads * hd);
    const kPre = linear(norm1, get(`${p}.self_attn.k_proj.weight`), bias('k'), T, d, kvHeads * hd);
    const v = linear(norm1, get(`${p}.self_attn.v_proj.weight`), bias('v'), T, d, kvHeads * hd);
    const q = applyRope(qPre, positions, hd, invFreq);
    const k = applyRope(kPre, positions, hd, invFreq);
    const scores = new Float64Array(heads * T * T);
    const weights = new Float64Array(heads * T * T);
    const attn = attention(config, q, k, v, T, scores, weights);
    const attnOut = linear(attn, get(`${p}.self_attn.o_proj.weight`), bias('o'), T, heads * hd, d);
    const resid1 = add(x, attnOut);
    const norm2 = rmsNorm(resid1, get(`${p}.post_attention_layernorm.weight`), T, d, eps);
    const gate = linear(norm2, get(`${p}.mlp.gate_proj.weight`), undefined, T, d, dMlp);
    const up = linear(norm2, get(`${p}.mlp.up_proj.weight`), undefined, T, d, dMlp);
    const mlpAct = new Float64Array(T * dMlp);
    for (let j = 0; j < mlpAct.length; j++) mlpAct[j] = (gate[j] / (1 + Math.exp(-gate[j]))) * up[j];
    const mlpOut = linear(mlpAct, get(`${p}.mlp.down_proj.weight`), undefined, T, dMlp, d);
    const output = add(resid1, mlpOut);
    layers.push({ input: x, norm1, qPre, kPre, q, k, v, scores, weights, attn, attnOut, resid1, norm2, mlpAct, mlpOut, output });
    x = output;
  }
  const finalNorm = rmsNorm(x, get('model.norm.weight'), T, d, eps);
  const head = config.tiedEmbeddings ? embedTable : get('lm_head.weight');
  const logits = linear(finalNorm, head, undefined, T, d, config.vocabSize);
  return { config, tokens: Array.from(tokens), invFreq, embed, layers, finalNorm, logits };
}
