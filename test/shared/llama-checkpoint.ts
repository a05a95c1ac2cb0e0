/**
 * Synthesized Llama-family checkpoints (llama, qwen2) in the hub's layout, for the loader's tests
 * and the e2e hub: config.json in LlamaConfig's / Qwen2Config's field names (transformers'
 * save_pretrained), model.safetensors (or an index and shards) in F32, F16 or BF16 with
 * LlamaForCausalLM's names (`model.layers.N.…`) or a bare LlamaModel's (no "model."), lm_head
 * written or not, the `rotary_emb.inv_freq` buffers older files carry, and the tiny tokenizer.
 * Also returns the parameters the loader must produce (rounded as the file holds them).
 * No vitest: the e2e tests import this too.
 */
import { llamaTensorShapes, type LlamaConfig } from '../../src/model/llama-schema';
import { makeRng } from '../../src/reference/random';
import { encodeFloats, safetensorsBytes, type RawTensor, type SynthDtype } from './gpt2-checkpoint';
import { tinyTokenizerFiles } from './tiny-tokenizer';

export interface SynthLlamaOptions {
  config: LlamaConfig;
  seed?: number;
  dtype?: SynthDtype;
  /** Name tensors as a bare LlamaModel does ("layers.0.…", "embed_tokens.weight", "norm.weight"). */
  bare?: boolean;
  /** With tied embeddings, write lm_head.weight anyway (a copy of embed_tokens), as some files do. */
  lmHeadCopy?: boolean;
  /** Add model.layers.N.self_attn.rotary_emb.inv_freq (F32 [headDim / 2]). */
  invFreq?: boolean;
  /** Split the weights into this many shards with model.safetensors.index.json. */
  shards?: number;
  /** Fields to set in config.json (undefined removes one). */
  configOverrides?: Record<string, unknown>;
  /** Tensors to leave out, by their name in the file. */
  dropTensors?: readonly string[];
  /** Weight scale: 'small' (default, lively maps in tiny models) or 'real' (std about 0.02, for large shapes). */
  scale?: 'small' | 'real';
}

export interface SynthLlamaCheckpoint {
  files: Record<string, Uint8Array>;
  /** The parameters the loader must produce, by their LlamaForCausalLM names, in schema order. */
  params: Map<string, Float32Array>;
  config: LlamaConfig;
}

/** config.json as save_pretrained writes it for LlamaForCausalLM or Qwen2ForCausalLM. */
export function llamaConfigJson(config: LlamaConfig, overrides: Record<string, unknown> = {}): string {
  const json: Record<string, unknown> = {
    _name_or_path: `synth-${config.modelType}`,
    architectures: [config.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.dModel,
    intermediate_size: config.dMlp,
    num_hidden_layers: config.layers,
    num_attention_heads: config.heads,
    num_key_value_heads: config.kvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.context,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling:
      config.ropeScaling === null
        ? null
        : {
            rope_type: 'llama3',
            factor: config.ropeScaling.factor,
            low_freq_factor: config.ropeScaling.lowFreqFactor,
            high_freq_factor: config.ropeScaling.highFreqFactor,
            original_max_position_embeddings: config.ropeScaling.originalContext,
          },
    tie_word_embeddings: config.tiedEmbeddings,
    hidden_act: 'silu',
    initializer_range: 0.02,
    bos_token_id: config.vocabSize - 1,
    eos_token_id: config.vocabSize - 1,
    torch_dtype: 'float32',
    use_cache: true,
  };
  if (config.modelType === 'llama') {
    json.attention_bias = config.oBias;
    json.mlp_bias = false;
  } else {
    json.use_sliding_window = false;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete json[key];
    else json[key] = value;
  }
  return JSON.stringify(json, null, 2);
}

/** A synthesized checkpoint (module comment). */
export function synthLlamaCheckpoint(options: SynthLlamaOptions): SynthLlamaCheckpoint {
  const { config, seed = 1, dtype = 'F32', shards = 1 } = options;
  const rng = makeRng(seed);
  const params = new Map<string, Float32Array>();
  const tensors: RawTensor[] = [];
  const fileName = (name: string) => (options.bare && name.startsWith('model.') ? name.slice('model.'.length) : name);
  for (const [name, shape] of llamaTensorShapes(config)) {
    const norm = /norm\.weight$|layernorm\.weight$/.test(name);
    const scale = options.scale === 'real' ? (name.endsWith('.bias') ? 0.02 : 0.035) : name.endsWith('.bias') ? 0.1 : 0.4;
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = (norm ? 1 : 0) + (rng() * 2 - 1) * (norm ? 0.2 : scale);
    const { bytes, decoded } = encodeFloats(values, dtype);
    params.set(name, decoded);
    tensors.push({ name: fileName(name), dtype, shape, bytes });
    const block = /^model\.layers\.(\d+)\.input_layernorm\.weight$/.exec(name);
    if (options.invFreq && block !== null) {
      const half = config.headDim / 2;
      const inv = Float32Array.from({ length: half }, (_, i) => config.ropeTheta ** (-(2 * i) / config.headDim));
      tensors.push({ name: fileName(`model.layers.${block[1]}.self_attn.rotary_emb.inv_freq`), dtype: 'F32', shape: [half], bytes: new Uint8Array(inv.buffer) });
    }
  }
  if (config.tiedEmbeddings && options.lmHeadCopy) {
    const embed = tensors.find((t) => t.name === fileName('model.embed_tokens.weight'))!;
    tensors.push({ name: 'lm_head.weight', dtype, shape: embed.shape, bytes: embed.bytes.slice() });
  }
  if (options.dropTensors) {
    const drop = new Set(options.dropTensors);
    tensors.splice(0, tensors.length, ...tensors.filter((t) => !drop.has(t.name)));
  }
  const encoder = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    'config.json': encoder.encode(llamaConfigJson(config, options.configOverrides)),
    'tokenizer.json': encoder.encode(tinyTokenizerFiles().tokenizerJson),
  };
  if (shards <= 1) {
    files['model.safetensors'] = safetensorsBytes(tensors, { format: 'pt' });
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(tensors.length / shards);
    let totalSize = 0;
    for (let s = 0; s < shards; s++) {
      const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) {
        weightMap[t.name] = name;
        totalSize += t.bytes.length;
      }
      files[name] = safetensorsBytes(part, { format: 'pt' });
    }
    files['model.safetensors.index.json'] = encoder.encode(JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  }
  return { files, params, config };
}
