/**
 * config.json of a Llama-family checkpoint (transformers' LlamaConfig and Qwen2Config) read into
 * the {@link LlamaConfig} the reference and the kernels use, refusing what they would compute
 * differently: another architecture, another activation, a RoPE scaling other than Llama 3's,
 * interleaved or multimodal RoPE, sliding-window attention, MLP biases.
 *
 * Defaults are those of the transformers classes when a field is absent (or null):
 * num_key_value_heads = num_attention_heads, head_dim = hidden_size / num_attention_heads,
 * rope_theta 10000, rope_scaling none, rms_norm_eps 1e-6, tie_word_embeddings false,
 * attention_bias false, hidden_act "silu", max_position_embeddings 2048 (llama) or 32768 (qwen2).
 * The sizes themselves (vocab_size, hidden_size, intermediate_size, num_hidden_layers,
 * num_attention_heads) are required: a default of 4096 would describe some other model.
 * Biases: Llama's attention_bias puts a bias on q, k, v and o_proj; Qwen2 always has q/k/v
 * biases and never an o_proj bias. Newer files may keep rope_theta and the scaling inside
 * `rope_parameters` (transformers 5); both places are read.
 */
import { MAX_ELEMENTS } from '../core/validate';
import { checkLlamaConfig, llamaTensorShapes, type LlamaConfig, type LlamaModelType } from '../model/llama-schema';
import type { Llama3RopeScaling } from '../model/rope';
import { describeValue } from '../model/schema';
import { PretrainedFileError } from './errors';

export { llamaTensorShapes };
export type { LlamaConfig, LlamaModelType, Llama3RopeScaling };

/** The model_type values this reader accepts. */
export const LLAMA_MODEL_TYPES: readonly LlamaModelType[] = ['llama', 'qwen2'];

/** transformers' max_position_embeddings default per model type (used only when the file has none). */
const DEFAULT_CONTEXT: Record<LlamaModelType, number> = { llama: 2048, qwen2: 32768 };

/** RoPE scalings transformers knows that the kernels do not compute, named in the refusal. */
const OTHER_ROPE_TYPES = ['linear', 'dynamic', 'yarn', 'longrope', 'llama4', 'mrope'];

/**
 * Read config.json (already JSON-parsed) of a Llama or Qwen2 checkpoint; `source` names the
 * file in messages (e.g. `'config.json'` or `'HuggingFaceTB/SmolLM2-135M/config.json'`). Throws
 * {@link PretrainedFileError} naming the file, the field, the value given and what is allowed
 * for: not an object; a model_type other than llama / qwen2; a size missing or not an integer
 * ≥ 1; num_attention_heads not a multiple of num_key_value_heads; an odd head_dim (or
 * hidden_size / heads when head_dim is absent); rms_norm_eps or rope_theta not a positive number;
 * a rope_scaling that is not null, "default" or a valid "llama3" one; hidden_act other than silu;
 * mlp_bias, rope_interleaved, use_sliding_window or use_mrope true; a tensor over MAX_ELEMENTS.
 */
export function parseLlamaConfig(json: unknown, source = 'config.json'): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PretrainedFileError(source, 'config', describeValue(json), "a JSON object with a Llama or Qwen2 model's fields (model_type, hidden_size, num_attention_heads, …)");
  }
  const fields = json as Record<string, unknown>;
  const modelType = fields.model_type;
  if (typeof modelType !== 'string' || !(LLAMA_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new PretrainedFileError(
      source,
      'model_type',
      modelType === undefined ? 'nothing (the field is missing)' : describeValue(modelType),
      `"llama" (Llama 2/3, TinyLlama, SmolLM2) or "qwen2" (Qwen2, Qwen2.5) for this reader; GPT-2-family checkpoints ("gpt2") go through readGpt2Config`,
    );
  }
  const type = modelType as LlamaModelType;
  /** A field, with null read as absent (transformers writes null for "use the default"). */
  const field = (name: string): unknown => (fields[name] === null ? undefined : fields[name]);
  const size = (name: string, fallback?: number): number => {
    const value = field(name) ?? fallback;
    if (value === undefined) {
      throw new PretrainedFileError(source, name, 'nothing (the field is missing)', `an integer from 1 to ${MAX_ELEMENTS}: is this a complete ${type} config.json?`, 'shape');
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ELEMENTS) {
      throw new PretrainedFileError(source, name, describeValue(value), `an integer from 1 to ${MAX_ELEMENTS}`, 'shape');
    }
    return value;
  };
  const positiveNumber = (name: string, value: unknown, allowed: string): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new PretrainedFileError(source, name, describeValue(value), allowed);
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const value = field(name) ?? fallback;
    if (typeof value !== 'boolean') throw new PretrainedFileError(source, name, describeValue(value), 'true or false');
    return value;
  };
  /** A flag the kernels do not support when true: refused by name. */
  const refuseTrue = (name: string, why: string): void => {
    if (flag(name, false)) throw new PretrainedFileError(source, name, 'true', `false (absent): ${why}`);
  };

  const vocabSize = size('vocab_size');
  const dModel = size('hidden_size');
  const dMlp = size('intermediate_size');
  const layers = size('num_hidden_layers');
  const heads = size('num_attention_heads');
  const kvHeads = size('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) {
    throw new PretrainedFileError(source, 'num_key_value_heads', String(kvHeads), `a divisor of num_attention_heads ${heads} (each key/value head serves the same number of query heads)`, 'shape');
  }
  const headDimGiven = field('head_dim') !== undefined;
  if (!headDimGiven && dModel % heads !== 0) {
    throw new PretrainedFileError(source, 'num_attention_heads', String(heads), `a divisor of hidden_size ${dModel}, or a head_dim field giving each head's width`, 'shape');
  }
  const headDim = size('head_dim', dModel / heads);
  if (headDim % 2 !== 0) {
    throw new PretrainedFileError(
      source,
      headDimGiven ? 'head_dim' : 'hidden_size / num_attention_heads',
      String(headDim),
      'an even number: rotary positions rotate pairs of entries (i, i + head_dim/2)',
      'shape',
    );
  }
  const context = size('max_position_embeddings', DEFAULT_CONTEXT[type]);
  const rmsNormEps = positiveNumber('rms_norm_eps', field('rms_norm_eps') ?? 1e-6, 'a finite number > 0 (1e-5 or 1e-6 in these models)');

  const activation = field('hidden_act') ?? 'silu';
  if (activation !== 'silu') {
    throw new PretrainedFileError(source, 'hidden_act', describeValue(activation), '"silu": the SwiGLU MLP of Llama and Qwen2 (silu(gate)·up) is what the kernels compute');
  }
  refuseTrue('mlp_bias', 'the kernels compute gate_proj, up_proj and down_proj without biases');
  refuseTrue('rope_interleaved', 'the kernels rotate pairs (i, i + head_dim/2) as transformers does, not neighbouring pairs (2i, 2i + 1)');
  refuseTrue('use_sliding_window', 'the kernels attend to every earlier token; sliding-window attention is not supported');
  refuseTrue('use_mrope', 'multimodal rotary positions (Qwen2-VL) are not supported; text models have use_mrope false');

  // transformers 5 moved rope_theta and the scaling into rope_parameters; older files have them at the top level.
  const ropeParameters = field('rope_parameters');
  const ropeBlock = typeof ropeParameters === 'object' && ropeParameters !== null && !Array.isArray(ropeParameters) ? (ropeParameters as Record<string, unknown>) : undefined;
  const thetaName = ropeBlock?.rope_theta !== undefined ? 'rope_parameters.rope_theta' : 'rope_theta';
  const ropeTheta = positiveNumber(thetaName, ropeBlock?.rope_theta ?? field('rope_theta') ?? 10000, 'a finite number > 1 (10000 in most models, 500000 in Llama 3)');
  if (ropeTheta <= 1) throw new PretrainedFileError(source, thetaName, describeValue(ropeTheta), 'a finite number > 1 (10000 in most models, 500000 in Llama 3)');
  const ropeScaling = field('rope_scaling') !== undefined ? readRopeScaling(source, 'rope_scaling', field('rope_scaling')) : ropeBlock !== undefined ? readRopeScaling(source, 'rope_parameters', ropeBlock) : null;

  const attentionBias = type === 'llama' ? flag('attention_bias', false) : false;
  const config: LlamaConfig = {
    modelType: type,
    vocabSize,
    context,
    dModel,
    heads,
    kvHeads,
    layers,
    dMlp,
    headDim,
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    tiedEmbeddings: flag('tie_word_embeddings', false),
    qkvBias: type === 'qwen2' || attentionBias,
    oBias: attentionBias,
  };
  // The remaining rule (the largest tensor within MAX_ELEMENTS) is the schema's; say which file broke it.
  try {
    checkLlamaConfig(config);
  } catch (error) {
    const e = error as { field?: string; given?: string; allowed?: string; kind?: 'too-large' };
    throw new PretrainedFileError(source, e.field ?? 'config', e.given ?? String(error), e.allowed ?? 'a valid Llama-family config', e.kind ?? 'shape');
  }
  return config;
}

/**
 * rope_scaling (or rope_parameters): null or rope_type "default" mean plain RoPE; "llama3" needs
 * factor, low_freq_factor, high_freq_factor and original_max_position_embeddings; any other type
 * is refused by name. The type is read from rope_type, else from the older key `type`.
 */
function readRopeScaling(source: string, name: string, value: unknown): Llama3RopeScaling | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PretrainedFileError(source, name, describeValue(value), 'null or an object { "rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings" }');
  }
  const scaling = value as Record<string, unknown>;
  const ropeType = scaling.rope_type ?? scaling.type ?? 'default';
  if (ropeType === 'default') return null;
  if (ropeType !== 'llama3') {
    const known = typeof ropeType === 'string' && OTHER_ROPE_TYPES.includes(ropeType) ? ` ("${ropeType}" scaling is not computed by the kernels)` : '';
    throw new PretrainedFileError(source, `${name}.rope_type`, describeValue(ropeType), `"llama3" or "default" (or no ${name})${known}: Llama 3.x's frequency scaling is the one supported`);
  }
  const number = (key: string, allowed: string, ok: (v: number) => boolean): number => {
    const v = scaling[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new PretrainedFileError(source, `${name}.${key}`, v === undefined ? 'nothing (the field is missing)' : describeValue(v), allowed);
    }
    return v;
  };
  const factor = number('factor', 'a number ≥ 1 (32 for Llama 3.2, 8 for Llama 3.1)', (v) => v >= 1);
  const lowFreqFactor = number('low_freq_factor', 'a number > 0 (1 for Llama 3.x)', (v) => v > 0);
  const highFreqFactor = number('high_freq_factor', `a number > low_freq_factor ${lowFreqFactor} (4 for Llama 3.x)`, (v) => v > lowFreqFactor);
  const originalContext = number('original_max_position_embeddings', 'an integer ≥ 1 (8192 for Llama 3.x)', (v) => Number.isInteger(v) && v >= 1);
  return { ropeType: 'llama3', factor, lowFreqFactor, highFreqFactor, originalContext };
}
