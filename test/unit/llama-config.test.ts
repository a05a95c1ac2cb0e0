/**
 * config.json of Llama-family checkpoints (src/pretrained/llama-config.ts) and the tensor schema
 * it leads to. The four configs are those the hub serves for the models issue 18 lists (the
 * fields that matter); the expected parameter counts are the published ones (SmolLM2-135M
 * 134,515,008; Qwen2.5-0.5B 494,032,768; TinyLlama-1.1B 1,100,048,384; Llama-3.2-1B
 * 1,235,814,400), so a wrong shape, a missing bias or a stray lm_head shows as a wrong count.
 */
import { describe, expect, it } from 'vitest';
import { llamaTensorShapes, parseLlamaConfig, type LlamaConfig } from '../../src/pretrained/llama-config';
import { PretrainedFileError } from '../../src/pretrained/errors';
import { thrown } from './expect-thrown';

const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 0, eos_token_id: 0, hidden_act: 'silu',
  hidden_size: 576, initializer_range: 0.041666666666666664, intermediate_size: 1536, is_llama_config: true, max_position_embeddings: 8192,
  model_type: 'llama', num_attention_heads: 9, num_hidden_layers: 30, num_key_value_heads: 3, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_interleaved: false, rope_scaling: null, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 49152,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643, hidden_act: 'silu', hidden_size: 896,
  initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 24, model_type: 'qwen2',
  num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768,
  tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, use_mrope: false, use_sliding_window: false, vocab_size: 151936,
};
const TINYLLAMA = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 2048,
  initializer_range: 0.02, intermediate_size: 5632, max_position_embeddings: 2048, model_type: 'llama', num_attention_heads: 32,
  num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 10000.0,
  tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32000,
};
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001, head_dim: 64,
  hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false,
  model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 128256,
};

/** The number of values in every tensor of the config. */
function count(config: LlamaConfig): number {
  let total = 0;
  for (const shape of llamaTensorShapes(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

describe('parseLlamaConfig', () => {
  it("reads SmolLM2-135M's config.json (9 heads over 3 kv heads, tied)", () => {
    const config = parseLlamaConfig(JSON.parse(JSON.stringify(SMOLLM2_135M)));
    expect(config).toEqual({
      modelType: 'llama', vocabSize: 49152, context: 8192, dModel: 576, heads: 9, kvHeads: 3, layers: 30, dMlp: 1536, headDim: 64,
      rmsNormEps: 1e-5, ropeTheta: 100000, ropeScaling: null, tiedEmbeddings: true, qkvBias: false, oBias: false,
    });
    expect(count(config)).toBe(134_515_008);
    const shapes = llamaTensorShapes(config);
    expect(shapes.get('model.layers.29.self_attn.k_proj.weight')).toEqual([192, 576]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect([...shapes.keys()].slice(0, 11)).toEqual([
      'model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight', 'model.layers.0.self_attn.o_proj.weight', 'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.down_proj.weight', 'model.layers.1.input_layernorm.weight',
    ]);
    expect([...shapes.keys()].at(-1)).toBe('model.norm.weight');
  });

  it("reads Qwen2.5-0.5B's config.json: q/k/v biases, no o_proj bias", () => {
    const config = parseLlamaConfig(QWEN25_05B, 'Qwen/Qwen2.5-0.5B/config.json');
    expect(config).toMatchObject({ modelType: 'qwen2', heads: 14, kvHeads: 2, headDim: 64, context: 32768, rmsNormEps: 1e-6, ropeTheta: 1e6, qkvBias: true, oBias: false, tiedEmbeddings: true });
    expect(count(config)).toBe(494_032_768);
    const shapes = llamaTensorShapes(config);
    expect(shapes.get('model.layers.0.self_attn.q_proj.bias')).toEqual([896]);
    expect(shapes.get('model.layers.0.self_attn.k_proj.bias')).toEqual([128]);
    expect(shapes.get('model.layers.0.self_attn.v_proj.bias')).toEqual([128]);
    expect(shapes.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
  });

  it("reads TinyLlama's config.json: untied, so lm_head.weight is a tensor of its own", () => {
    const config = parseLlamaConfig(TINYLLAMA);
    expect(config).toMatchObject({ heads: 32, kvHeads: 4, headDim: 64, tiedEmbeddings: false, context: 2048, ropeScaling: null });
    expect(count(config)).toBe(1_100_048_384);
    expect([...llamaTensorShapes(config)].at(-1)).toEqual(['lm_head.weight', [32000, 2048]]);
  });

  it("reads Llama-3.2-1B's config.json with its llama3 rope scaling", () => {
    const config = parseLlamaConfig(LLAMA32_1B);
    expect(config).toMatchObject({ vocabSize: 128256, context: 131072, heads: 32, kvHeads: 8, headDim: 64, ropeTheta: 500000, tiedEmbeddings: true });
    expect(config.ropeScaling).toEqual({ ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });
    expect(count(config)).toBe(1_235_814_400);
  });

  it("takes transformers' defaults for absent fields, per model type", () => {
    const sizes = { vocab_size: 10, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 4 };
    expect(parseLlamaConfig({ model_type: 'llama', ...sizes, head_dim: null })).toEqual({
      modelType: 'llama', vocabSize: 10, context: 2048, dModel: 8, heads: 4, kvHeads: 4, layers: 2, dMlp: 12, headDim: 2,
      rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, tiedEmbeddings: false, qkvBias: false, oBias: false,
    });
    expect(parseLlamaConfig({ model_type: 'qwen2', ...sizes })).toMatchObject({ context: 32768, qkvBias: true, oBias: false });
    // attention_bias means all four projections on Llama; Qwen2's biases do not depend on it.
    expect(parseLlamaConfig({ model_type: 'llama', ...sizes, attention_bias: true })).toMatchObject({ qkvBias: true, oBias: true });
    expect(parseLlamaConfig({ model_type: 'qwen2', ...sizes, attention_bias: true })).toMatchObject({ qkvBias: true, oBias: false });
    // head_dim may differ from hidden_size / heads; then hidden_size need not divide.
    const wide = parseLlamaConfig({ model_type: 'llama', ...sizes, hidden_size: 10, head_dim: 6, num_key_value_heads: 2 });
    expect(wide).toMatchObject({ dModel: 10, headDim: 6, kvHeads: 2 });
    expect(llamaTensorShapes(wide).get('model.layers.0.self_attn.o_proj.weight')).toEqual([10, 24]);
    expect(llamaTensorShapes(wide).get('model.layers.0.self_attn.v_proj.weight')).toEqual([12, 10]);
  });

  it('reads rope_type "default" as plain RoPE, the old key "type", and transformers 5\'s rope_parameters', () => {
    const base = { ...LLAMA32_1B };
    expect(parseLlamaConfig({ ...base, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeNull();
    expect(parseLlamaConfig({ ...base, rope_scaling: { ...base.rope_scaling, rope_type: undefined, type: 'llama3' } }).ropeScaling?.factor).toBe(32);
    const v5 = parseLlamaConfig({ ...base, rope_scaling: undefined, rope_theta: undefined, rope_parameters: { ...base.rope_scaling, rope_theta: 500000 } });
    expect(v5.ropeTheta).toBe(500000);
    expect(v5.ropeScaling).toEqual({ ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });
    expect(parseLlamaConfig({ ...SMOLLM2_135M, rope_parameters: { rope_type: 'default', rope_theta: 100000 } })).toMatchObject({ ropeTheta: 100000, ropeScaling: null });
  });

  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['model_type gpt2', { model_type: 'gpt2' }, 'model_type', 'got "gpt2"; allowed: "llama" (Llama 2/3, TinyLlama, SmolLM2) or "qwen2"'],
    ['model_type mistral', { model_type: 'mistral' }, 'model_type', 'got "mistral"'],
    ['no model_type', { model_type: undefined }, 'model_type', 'got nothing (the field is missing)'],
    ['hidden_size missing', { hidden_size: undefined }, 'hidden_size', 'got nothing (the field is missing); allowed: an integer from 1'],
    ['num_hidden_layers 0', { num_hidden_layers: 0 }, 'num_hidden_layers', 'got 0; allowed: an integer from 1'],
    ['vocab_size a string', { vocab_size: '49152' }, 'vocab_size', 'got "49152"'],
    ['9 heads over 2 kv heads', { num_key_value_heads: 2 }, 'num_key_value_heads', 'got 2; allowed: a divisor of num_attention_heads 9'],
    ['an odd head_dim', { head_dim: 63 }, 'head_dim', 'got 63; allowed: an even number'],
    ['an odd hidden_size / heads', { hidden_size: 567, head_dim: undefined }, 'hidden_size / num_attention_heads', 'got 63'],
    ['heads not dividing hidden_size, no head_dim', { hidden_size: 577 }, 'num_attention_heads', 'a divisor of hidden_size 577, or a head_dim field'],
    ['rms_norm_eps 0', { rms_norm_eps: 0 }, 'rms_norm_eps', 'got 0; allowed: a finite number > 0'],
    ['rope_theta a string', { rope_theta: '1e5' }, 'rope_theta', 'got "1e5"'],
    ['linear rope scaling', { rope_scaling: { type: 'linear', factor: 2 } }, 'rope_scaling.rope_type', 'got "linear"; allowed: "llama3" or "default" (or no rope_scaling) ("linear" scaling is not computed'],
    ['yarn rope scaling', { rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'rope_scaling.rope_type', 'got "yarn"'],
    ['llama3 scaling without factor', { rope_scaling: { ...LLAMA32_1B.rope_scaling, factor: undefined } }, 'rope_scaling.factor', 'got nothing (the field is missing)'],
    ['llama3 with high ≤ low', { rope_scaling: { ...LLAMA32_1B.rope_scaling, high_freq_factor: 1 } }, 'rope_scaling.high_freq_factor', 'got 1; allowed: a number > low_freq_factor 1'],
    ['llama3 with a fractional context', { rope_scaling: { ...LLAMA32_1B.rope_scaling, original_max_position_embeddings: 8192.5 } }, 'rope_scaling.original_max_position_embeddings', 'got 8192.5'],
    ['rope_scaling a number', { rope_scaling: 2 }, 'rope_scaling', 'got 2; allowed: null or an object'],
    ['gelu activation', { hidden_act: 'gelu' }, 'hidden_act', 'got "gelu"; allowed: "silu"'],
    ['MLP biases', { mlp_bias: true }, 'mlp_bias', 'got true; allowed: false (absent)'],
    ['interleaved RoPE', { rope_interleaved: true }, 'rope_interleaved', 'not neighbouring pairs (2i, 2i + 1)'],
    ['sliding windows', { use_sliding_window: true }, 'use_sliding_window', 'sliding-window attention is not supported'],
    ['tie_word_embeddings a string', { tie_word_embeddings: 'yes' }, 'tie_word_embeddings', 'got "yes"; allowed: true or false'],
    ['an embedding over MAX_ELEMENTS', { vocab_size: 2 ** 22, hidden_size: 2 ** 10, head_dim: 64 }, 'config', 'got a tensor of 4294967296 values'],
  ];
  for (const [what, change, field, text] of cases) {
    it(`refuses ${what}, naming ${field}`, () => {
      const json: Record<string, unknown> = { ...SMOLLM2_135M, ...change };
      for (const key of Object.keys(change)) if (change[key] === undefined) delete json[key];
      const error = thrown(PretrainedFileError, () => parseLlamaConfig(json, 'my/config.json'));
      expect(error.field).toBe(field);
      expect(error.file).toBe('my/config.json');
      expect(error.message.startsWith(`my/config.json: ${field}: `)).toBe(true);
      expect(error.message).toContain(text);
    });
  }

  it('refuses JSON that is not an object', () => {
    expect(thrown(PretrainedFileError, () => parseLlamaConfig([1, 2])).message).toContain('config.json: config: got object');
    expect(thrown(PretrainedFileError, () => parseLlamaConfig(null)).field).toBe('config');
  });
});
