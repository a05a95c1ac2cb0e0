/**
 * config.json of a GPT-2-family checkpoint (Hugging Face's GPT2Config) read into the sizes the
 * schema and the kernels use (src/core/types.ts's ModelConfig), refusing what the kernels would
 * compute differently: another architecture, another activation, another LayerNorm ε, or
 * attention scaled in another way. Field names and defaults are GPT2Config's (transformers'
 * configuration_gpt2.py): n_inner null means 4·n_embd, n_positions was n_ctx in old files,
 * activation_function defaults to "gelu_new" and layer_norm_epsilon to 1e-5.
 */
import type { ModelConfig } from '../core/types';
import { MAX_ELEMENTS } from '../core/validate';
import { describeValue, validateConfig } from '../model/schema';
import { PretrainedFileError } from './errors';
import { LLAMA_MODEL_TYPES, parseLlamaConfig, type LlamaConfig } from './llama-config';

/** A GPT-2-family model's sizes, with what config.json said about the computation. */
export interface Gpt2Config extends ModelConfig {
  /** config.json's model_type (`'gpt2'`; absent in very old files, reported as `'gpt2'`). */
  modelType: string;
  /** LayerNorm's ε (only 1e-5 is accepted: the kernels' ε). */
  layerNormEps: number;
  /** The MLP's activation: `'gelu_new'` or `'gelu_pytorch_tanh'` (both GPT-2's tanh GELU). */
  activation: string;
}

/** The activations the kernels compute: GPT-2's tanh approximation of GELU under its two names. */
export const GPT2_ACTIVATIONS: readonly string[] = ['gelu_new', 'gelu_pytorch_tanh'];

/** LayerNorm's ε in the kernels and the reference (src/model/plan.ts). */
export const GPT2_LAYER_NORM_EPS = 1e-5;

/**
 * Read config.json (already JSON-parsed) of a GPT-2-family checkpoint. Throws
 * {@link PretrainedFileError} naming `file` and the field for: not an object; n_embd, n_head,
 * n_layer, vocab_size, n_positions (or n_ctx) or n_inner missing or not an integer ≥ 1; n_embd
 * not divisible by n_head; a model_type other than "gpt2"; an activation_function other than
 * gelu_new / gelu_pytorch_tanh; a layer_norm_epsilon other than 1e-5; scale_attn_weights false
 * or scale_attn_by_inverse_layer_idx true (the kernels scale scores by 1/√dHead only).
 */
export function readGpt2Config(json: unknown, file = 'config.json'): Gpt2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PretrainedFileError(file, 'config', describeValue(json), 'a JSON object with GPT-2\'s fields (n_embd, n_head, n_layer, n_positions, vocab_size, …)');
  }
  const fields = json as Record<string, unknown>;
  const modelType = fields.model_type ?? 'gpt2';
  if (modelType !== 'gpt2') {
    throw new PretrainedFileError(
      file,
      'model_type',
      describeValue(modelType),
      '"gpt2" for this reader (GPT-2-family checkpoints: gpt2, distilgpt2, gpt2-medium/large/xl and fine-tunes of them); Llama and Qwen2 checkpoints go through parseLlamaConfig (readModelConfig picks the reader by model_type)',
    );
  }
  const size = (name: string, value: unknown): number => {
    if (value === undefined) {
      throw new PretrainedFileError(file, name, 'nothing (the field is missing)', `an integer from 1 to ${MAX_ELEMENTS}: is this a GPT-2 config.json?`, 'shape');
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ELEMENTS) {
      throw new PretrainedFileError(file, name, describeValue(value), `an integer from 1 to ${MAX_ELEMENTS}`, 'shape');
    }
    return value;
  };
  const dModel = size('n_embd', fields.n_embd);
  const heads = size('n_head', fields.n_head);
  const layers = size('n_layer', fields.n_layer);
  const vocabSize = size('vocab_size', fields.vocab_size);
  const context = fields.n_positions === undefined && fields.n_ctx !== undefined ? size('n_ctx', fields.n_ctx) : size('n_positions', fields.n_positions);
  const dMlp = fields.n_inner === undefined || fields.n_inner === null ? 4 * dModel : size('n_inner', fields.n_inner);
  if (dModel % heads !== 0) {
    throw new PretrainedFileError(file, 'n_head', String(heads), `a divisor of n_embd ${dModel} (each head has n_embd / n_head dimensions)`, 'shape');
  }

  const activation = fields.activation_function ?? 'gelu_new';
  if (typeof activation !== 'string' || !GPT2_ACTIVATIONS.includes(activation)) {
    throw new PretrainedFileError(
      file,
      'activation_function',
      describeValue(activation),
      `${GPT2_ACTIVATIONS.map((a) => JSON.stringify(a)).join(' or ')}: the kernels compute GPT-2's tanh GELU only`,
    );
  }
  const eps = fields.layer_norm_epsilon ?? GPT2_LAYER_NORM_EPS;
  // A relative tolerance: 1e-5 written by another language may differ in the last digit.
  if (typeof eps !== 'number' || !(Math.abs(eps - GPT2_LAYER_NORM_EPS) <= 1e-9 * GPT2_LAYER_NORM_EPS)) {
    throw new PretrainedFileError(file, 'layer_norm_epsilon', describeValue(eps), `${GPT2_LAYER_NORM_EPS}: the kernels' LayerNorm ε (GPT-2's); another ε would give other numbers than the model's`);
  }
  if (fields.scale_attn_weights === false) {
    throw new PretrainedFileError(file, 'scale_attn_weights', 'false', 'true (absent): the kernels scale attention scores by 1/√dHead');
  }
  if (fields.scale_attn_by_inverse_layer_idx === true) {
    throw new PretrainedFileError(file, 'scale_attn_by_inverse_layer_idx', 'true', 'false (absent): the kernels do not scale scores by 1/(layer + 1)');
  }
  const tie = fields.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw new PretrainedFileError(file, 'tie_word_embeddings', describeValue(tie), 'true or false (absent: true, as GPT-2)');
  const untied = tie ? {} : { tiedEmbeddings: false };
  // validateConfig also bounds the largest parameter; say which file it came from.
  try {
    validateConfig({ vocabSize, context, dModel, heads, layers, dMlp, ...untied });
  } catch (error) {
    const e = error as { field?: string; given?: string; allowed?: string; kind?: 'too-large' };
    throw new PretrainedFileError(file, e.field ?? 'config', e.given ?? String(error), e.allowed ?? 'a valid GPT-2 config', e.kind ?? 'shape');
  }
  return { vocabSize, context, dModel, heads, layers, dMlp, ...untied, modelType, layerNormEps: eps, activation };
}

/**
 * Parse the text of config.json and read it ({@link readGpt2Config}); invalid JSON is a
 * {@link PretrainedFileError} on field `json`.
 */
export function parseGpt2Config(text: string, file = 'config.json'): Gpt2Config {
  return readGpt2Config(parseJsonFile(text, file), file);
}

/** JSON.parse with a {@link PretrainedFileError} naming the file for text that is not JSON. */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const why = error instanceof SyntaxError ? error.message : String(error);
    throw new PretrainedFileError(file, 'json', `text that is not JSON (${why.slice(0, 120)})`, `a JSON file: is ${file} complete, and not an HTML error page?`);
  }
}

/** A checkpoint's config: GPT-2's sizes (model_type gpt2) or a Llama-family config (llama, qwen2). */
export type PretrainedConfig = Gpt2Config | LlamaConfig;

/** The architectures the loader reads, for messages. */
export const SUPPORTED_MODEL_TYPES =
  '"gpt2" (gpt2, distilgpt2, gpt2-medium/large/xl and fine-tunes), "llama" (Llama 2/3, TinyLlama, SmolLM2) or "qwen2" (Qwen2, Qwen2.5)';

/** Whether a loaded config is a Llama-family one. */
export function isLlamaFamily(config: PretrainedConfig): config is LlamaConfig {
  return (LLAMA_MODEL_TYPES as readonly string[]).includes(config.modelType);
}

/**
 * Read config.json (already JSON-parsed) by its model_type: "gpt2" (or none, as very old GPT-2
 * files) with {@link readGpt2Config}, "llama" and "qwen2" with parseLlamaConfig. Any other type
 * is a {@link PretrainedFileError} on model_type naming the type given and the ones supported.
 */
export function readModelConfig(json: unknown, file = 'config.json'): PretrainedConfig {
  const type = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>).model_type : undefined;
  if (type === undefined || type === 'gpt2') return readGpt2Config(json, file);
  if (typeof type === 'string' && (LLAMA_MODEL_TYPES as readonly string[]).includes(type)) return parseLlamaConfig(json, file);
  throw new PretrainedFileError(file, 'model_type', describeValue(type), `${SUPPORTED_MODEL_TYPES}: the architectures whose forward pass the kernels compute`);
}

/** Parse config.json's text and read it by model_type ({@link readModelConfig}). */
export function parseModelConfig(text: string, file = 'config.json'): PretrainedConfig {
  return readModelConfig(parseJsonFile(text, file), file);
}
