/**
 * The Llama family's configuration and tensor schema: a {@link LlamaConfig} (what config.json
 * says, parsed by src/pretrained/llama-config.ts), its check, and the names and shapes of its
 * tensors as Hugging Face checkpoints write them. The f64 reference (llama-reference.ts), the
 * loader (src/pretrained) and the GPU forward (src/kernels/llama-model.ts) all read it from here.
 * Here rather than in src/pretrained because src/pretrained builds on src/model (the reverse
 * import would be a folder cycle, .dependency-cruiser.cjs); it imports only core, the GPT-2
 * schema's helpers and rope.ts, so the kernels may import it.
 */
import { AttentionInputError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import { checkRopeConfig, type RopeConfig } from './rope';
import { describeValue, type Floats } from './schema';

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

/** Whether a config is a Llama-family one (modelType llama or qwen2) rather than GPT-2's sizes (which may carry modelType 'gpt2'). */
export function isLlamaConfig(config: unknown): config is LlamaConfig {
  if (typeof config !== 'object' || config === null) return false;
  const type = (config as { modelType?: unknown }).modelType;
  return type === 'llama' || type === 'qwen2';
}

/** The sizes every model config has (GPT-2's ModelConfig; a LlamaConfig has them too, with headDim). */
interface AnyModelSizes {
  dModel: number;
  heads: number;
  headDim?: number;
  modelType?: string;
}

/** Each head's width: headDim for the Llama family (it may differ from dModel / heads), else dModel / heads. */
export function headDimOf(config: AnyModelSizes): number {
  return isLlamaConfig(config) ? config.headDim : config.dModel / config.heads;
}

/** The width of q, k, v and the attention output as the GPU lays them out: heads · headDim (dModel for GPT-2). */
export function attentionWidthOf(config: AnyModelSizes): number {
  return config.heads * headDimOf(config);
}

/** The number of values in a Llama-family model's tensors (embed_tokens counted once when tied). */
export function countLlamaParams(config: LlamaConfig): number {
  let total = 0;
  for (const shape of llamaTensorShapes(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
