/**
 * loadPretrained (src/pretrained/load.ts) on Llama-family checkpoints served by the local hub
 * (test/shared/local-hub.ts, synthesized by test/shared/llama-checkpoint.ts): config.json read by
 * model_type, tensors by LlamaForCausalLM's names or a bare LlamaModel's, F32 / F16 / BF16,
 * sharded, tied (with and without a stored lm_head copy) and untied, Qwen2 biases, the
 * rotary_emb.inv_freq buffers skipped; every parameter equal to what the file holds, and the
 * forward reference run on what was loaded. Errors name the tensor and the config fields.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llamaForwardReference } from '../../src/model/llama-reference';
import type { LlamaConfig } from '../../src/model/llama-schema';
import { PretrainedFileError } from '../../src/pretrained/errors';
import { loadPretrained } from '../../src/pretrained/load';
import { synthLlamaCheckpoint, type SynthLlamaCheckpoint } from '../shared/llama-checkpoint';
import { startLocalHub, type LocalHub } from '../shared/local-hub';
import { tinyTokenizerFiles } from '../shared/tiny-tokenizer';

const VOCAB = tinyTokenizerFiles().vocabSize;
const LLAMA: LlamaConfig = {
  modelType: 'llama',
  vocabSize: VOCAB,
  context: 128,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 6,
  layers: 2,
  dMlp: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: { ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 64 },
  tiedEmbeddings: false,
  qkvBias: false,
  oBias: false,
};
const QWEN: LlamaConfig = { ...LLAMA, modelType: 'qwen2', heads: 4, kvHeads: 1, headDim: 4, ropeTheta: 1e6, ropeScaling: null, rmsNormEps: 1e-6, tiedEmbeddings: true, qkvBias: true };

const checkpoints: Record<string, SynthLlamaCheckpoint> = {
  'synth/llama-f32-sharded': synthLlamaCheckpoint({ config: LLAMA, seed: 3, shards: 3, invFreq: true }),
  'synth/llama-f16-bare-tied': synthLlamaCheckpoint({ config: { ...LLAMA, tiedEmbeddings: true }, seed: 4, dtype: 'F16', bare: true, lmHeadCopy: true }),
  'synth/qwen2-bf16': synthLlamaCheckpoint({ config: QWEN, seed: 5, dtype: 'BF16' }),
  'bad/kv-shape': synthLlamaCheckpoint({ config: LLAMA, configOverrides: { num_key_value_heads: 4 } }),
  'bad/no-lm-head': synthLlamaCheckpoint({ config: LLAMA, dropTensors: ['lm_head.weight'] }),
  'bad/extra-layer': synthLlamaCheckpoint({ config: LLAMA, configOverrides: { num_hidden_layers: 1 } }),
};
let hub: LocalHub;
beforeAll(async () => {
  hub = await startLocalHub(Object.fromEntries(Object.entries(checkpoints).map(([id, c]) => [id, c.files])), { redirectOver: 4096 });
});
afterAll(async () => {
  await hub.stop();
});

async function failure(id: string): Promise<PretrainedFileError> {
  const error: unknown = await loadPretrained(id, { hub: hub.url, cache: null }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `loading ${id} should fail`).toBeInstanceOf(PretrainedFileError);
  return error as PretrainedFileError;
}

describe('loadPretrained: Llama-family checkpoints from the local hub', () => {
  for (const [id, expectedDtype] of [
    ['synth/llama-f32-sharded', 'F32'],
    ['synth/llama-f16-bare-tied', 'F16'],
    ['synth/qwen2-bf16', 'BF16'],
  ] as const) {
    it(`${id}: the config by model_type, every parameter as the file holds it, the reference runs on it`, async () => {
      const synth = checkpoints[id];
      const loaded = await loadPretrained(id, { hub: hub.url, cache: null });
      expect(loaded.config).toEqual(synth.config);
      expect(loaded.dtype).toBe(expectedDtype);
      expect([...loaded.params.keys()]).toEqual([...synth.params.keys()]);
      for (const [name, values] of synth.params) expect(loaded.params.get(name), name).toEqual(values);
      // Skipped: the inv_freq buffers, and lm_head beside tied embeddings.
      expect(loaded.params.has('lm_head.weight')).toBe(!synth.config.tiedEmbeddings);
      expect([...loaded.params.keys()].some((name) => name.includes('inv_freq'))).toBe(false);
      const tokens = loaded.tokenizer.encode(' the cat');
      expect(tokens.length).toBeGreaterThan(0);
      const trace = llamaForwardReference(loaded.config as LlamaConfig, loaded.params, tokens);
      expect(trace.logits.length).toBe(tokens.length * VOCAB);
      expect(trace.logits.every(Number.isFinite)).toBe(true);
    });
  }

  it('a k_proj whose shape disagrees with num_key_value_heads names the tensor and the fields', async () => {
    const error = await failure('bad/kv-shape');
    expect(error.field).toBe('shape');
    expect(error.tensor).toBe('model.layers.0.self_attn.k_proj.weight');
    expect(error.message).toContain('got [12, 16]; allowed: [24, 16] = [num_key_value_heads 4 × head_dim 6, hidden_size 16] from config.json');
  });

  it('an untied model without lm_head.weight names the missing tensor', async () => {
    const error = await failure('bad/no-lm-head');
    expect(error.field).toBe('tensor');
    expect(error.tensor).toBe('lm_head.weight');
    expect(error.message).toContain('got no lm_head.weight');
  });

  it('a layer beyond num_hidden_layers is named with the config field', async () => {
    const error = await failure('bad/extra-layer');
    expect(error.tensor).toBe('model.layers.1.input_layernorm.weight');
    expect(error.message).toContain('block 1, but config.json has num_hidden_layers 1');
  });
});
