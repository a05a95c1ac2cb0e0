/**
 * The GPU memory of a model (src/pretrained/memory.ts) against sizes worked out by hand for
 * GPT-2 small, and checkModelFits against WebGPU's default and larger limits.
 */
import { SMOLLM2_135M_SHAPE } from '../../src/bench/model-report';
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import type { GptConfig } from '../../src/model/schema';
import { ModelTooLargeError } from '../../src/pretrained/errors';
import { checkModelFits, modelMemory } from '../../src/pretrained/memory';
import { HUB_MODELS } from '../../src/pretrained/hub';
import type { LlamaConfig } from '../../src/model/llama-schema';
import { thrown } from './expect-thrown';

const GPT2: GptConfig = { vocabSize: 50257, context: 1024, dModel: 768, heads: 12, layers: 12, dMlp: 3072 };
/** WebGPU's default limits (the spec's): 128 MiB per storage binding, 256 MiB per buffer. */
const DEFAULT_LIMITS = { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 268_435_456 };
const LARGE_LIMITS = { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 31 - 4 };

describe('modelMemory', () => {
  it('GPT-2 small at 128 tokens, by kind', () => {
    const memory = modelMemory(GPT2, 128);
    expect(memory.byKind.parameter).toBe(124_439_808 * 4);
    // scores and weights, 12 heads × 128 × 128 floats, in each of 12 layers.
    expect(memory.byKind.map).toBe(12 * 2 * 12 * 128 * 128 * 4);
    expect(memory.byKind.logits).toBe(128 * 50257 * 4);
    // Per layer: ln1, q, k, v, attn, resid1, ln2, resid2 (128 × 768) and mlpAct (128 × 3072);
    // then embed and lnF (128 × 768) and the 128 token ids (512 bytes).
    expect(memory.byKind.activation).toBe(12 * (8 * 128 * 768 + 128 * 3072) * 4 + 2 * 128 * 768 * 4 + 512);
    expect(memory.total).toBe(memory.byKind.parameter + memory.byKind.map + memory.byKind.logits + memory.byKind.activation);
    expect(memory.largest).toEqual({ name: 'wte.weight', kind: 'parameter', bytes: 50257 * 768 * 4 });
    expect(memory.buffers.find((b) => b.name === 'h.11/weights')).toEqual({ name: 'h.11/weights', kind: 'map', bytes: 12 * 128 * 128 * 4 });
  });

  it('at 1024 tokens the logits are the largest buffer; tiny buffers are padded to 16 bytes', () => {
    expect(modelMemory(GPT2, 1024).largest).toEqual({ name: 'logits', kind: 'logits', bytes: 1024 * 50257 * 4 });
    const tiny = modelMemory({ vocabSize: 5, context: 4, dModel: 3, heads: 1, layers: 1, dMlp: 2 }, 1);
    expect(tiny.buffers.find((b) => b.name === 'tokens')!.bytes).toBe(16);
    expect(tiny.buffers.find((b) => b.name === 'h.0.mlp.c_fc.bias')!.bytes).toBe(16);
    expect(tiny.buffers.find((b) => b.name === 'wte.weight')!.bytes).toBe(64); // 15 floats = 60 bytes → 64
  });

  it('refuses a sequence beyond the context', () => {
    expect(thrown(AttentionInputError, () => modelMemory(GPT2, 1025)).field).toBe('seqLen');
    expect(thrown(AttentionInputError, () => modelMemory(GPT2, 0)).message).toContain('an integer from 1 to the model\'s context, 1024');
  });
});

describe('checkModelFits', () => {
  it('GPT-2 small fits large limits at its full context', () => {
    expect(checkModelFits(GPT2, 1024, LARGE_LIMITS).total).toBeGreaterThan(124_439_808 * 4);
  });

  it("at WebGPU's default limits, names wte (a parameter: a smaller model)", () => {
    const error = thrown(ModelTooLargeError, () => checkModelFits(GPT2, 16, DEFAULT_LIMITS));
    expect(error).toBeInstanceOf(AttentionInputError);
    expect(error.kind).toBe('too-large');
    expect(error.field).toBe('wte.weight');
    expect(error.bytesNeeded).toBe(154_389_504);
    expect(error.bytesAllowed).toBe(134_217_728);
    expect(error.limit).toBe('maxStorageBufferBindingSize');
    expect(error.message).toContain('Choose a smaller model');
  });

  it('a run buffer too large names it and the longest sequence that fits', () => {
    // 1 GiB bindings, but buffers of at most 200 MB: the parameters fit (wte is 154 MB), 1024 × 50257 logits (206 MB) do not.
    const limits = { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 200_000_000 };
    const error = thrown(ModelTooLargeError, () => checkModelFits(GPT2, 1024, limits));
    expect(error.field).toBe('logits');
    expect(error.limit).toBe('maxBufferSize');
    expect(error.bytesNeeded).toBe(1024 * 50257 * 4);
    // floor(200 000 000 / (50257 × 4)) = 994 tokens of logits; the maps (12 × T² × 4) fit far beyond.
    expect(error.message).toContain('up to 994 tokens fit this device');
    expect(() => checkModelFits(GPT2, 994, limits)).not.toThrow();
  });
});

describe('modelMemory of a Llama-family model (SmolLM2-135M)', () => {
  const smol = SMOLLM2_135M_SHAPE;
  it('parameters as the runner uploads them (q/k/v and gate/up stacked, a zeros bias), maps per layer, or none on the fused path', () => {
    const maps = modelMemory(smol, 2048);
    // 134 515 008 values in f32, plus the shared zeros buffers (576 and 960 floats: no biases).
    expect(maps.byKind.parameter).toBe(134_515_008 * 4 + 576 * 4 + 960 * 4);
    // Scores and weights, 9 heads × 2048², in each of 30 layers.
    expect(maps.byKind.map).toBe(30 * 2 * 9 * 2048 * 2048 * 4);
    const fused = modelMemory(smol, 8192, { fused: true });
    // A 128 × 128 grid per head and layer instead; the log-sum-exps count as activations.
    expect(fused.byKind.map).toBe(30 * 9 * 128 * 128 * 4);
    expect(fused.buffers.some((b) => b.name === 'h.29/lse' && b.bytes === 2 * 9 * 8192 * 4)).toBe(true);
  });

  it('16-bit weights: every weight matrix and the embedding in half the bytes, norms and the zeros bias still f32', () => {
    const f32 = modelMemory(smol, 512).byKind.parameter;
    const bf16 = modelMemory(smol, 512, { weights: 'bf16' }).byKind.parameter;
    // The 30 layers' two norms (576 each) and the final norm are 35 136 values: the rest halves.
    const norms = (30 * 2 + 1) * 576;
    const zeros = 576 + 960;
    expect(bf16).toBe(((134_515_008 - norms) * 4) / 2 + norms * 4 + zeros * 4);
    expect(f32 - bf16).toBe(((134_515_008 - norms) * 4) / 2);
  });
});

describe('Llama-3.2-1B: its 128 256 × 2048 embedding against a 1 GiB binding', () => {
  // Its config.json's sizes (as the picker lists them, HUB_MODELS).
  const llama: LlamaConfig = { modelType: 'llama', vocabSize: 128256, context: 131072, dModel: 2048, heads: 32, kvHeads: 8, headDim: 64, layers: 16, dMlp: 8192, ropeTheta: 500000, tiedEmbeddings: true, qkvBias: false, rmsNormEps: 1e-5, ropeScaling: null, oBias: false };
  const limits = { maxStorageBufferBindingSize: 1_000_000_000, maxBufferSize: 1_073_741_824 };
  it('the picker lists it with these sizes', () => {
    expect(HUB_MODELS.find((m) => m.id === 'meta-llama/Llama-3.2-1B')).toMatchObject({ layers: 16, heads: 32, kvHeads: 8, dModel: 2048, dtype: 'BF16', gated: true });
  });
  it('in f32 (1.05 GB) the embedding passes the binding and is split across two; kept in its BF16 (525 MB) it fits one', () => {
    const f32 = checkModelFits(llama, 1, limits);
    expect(f32.largest).toMatchObject({ name: 'model.embed_tokens.weight', kind: 'parameter', bytes: 128256 * 2048 * 4 });
    // 1e9 bytes hold 122 070 rows of 8192 bytes: 122 070 + 6186.
    expect(f32.split).toEqual([{ name: 'model.embed_tokens.weight', pieces: 2 }]);
    const bf16 = checkModelFits(llama, 1, limits, { weights: 'bf16' });
    expect(bf16.largest).toMatchObject({ name: 'model.embed_tokens.weight', kind: 'parameter', bytes: 128256 * 2048 * 2 });
    expect(bf16.split).toEqual([]);
  });
  it('a smaller binding splits the table further; a weight that is not split and does not fit is named', () => {
    // 200 MB: 24 414 rows of f32 (6 pieces), 48 828 of BF16 (3); gate | up (134 MB in f32) still fits.
    const small = { maxStorageBufferBindingSize: 200_000_000, maxBufferSize: 1_073_741_824 };
    expect(checkModelFits(llama, 1, small).split).toEqual([{ name: 'model.embed_tokens.weight', pieces: 6 }]);
    expect(checkModelFits(llama, 1, small, { weights: 'bf16' }).split).toEqual([{ name: 'model.embed_tokens.weight', pieces: 3 }]);
    // 100 MB: gate | up stacked (2 × 8192 × 2048 f32 = 134 MB) is not split: refused by name.
    const error = thrown(ModelTooLargeError, () => checkModelFits(llama, 1, { maxStorageBufferBindingSize: 100_000_000, maxBufferSize: 1_073_741_824 }));
    expect(error.message).toContain('model.layers.0.mlp.gate_up_proj.weight');
    expect(error.message).toContain('Choose a smaller model');
    // An untied lm_head is split as the embedding is.
    expect(checkModelFits({ ...llama, tiedEmbeddings: false }, 1, small).split).toEqual([
      { name: 'model.embed_tokens.weight', pieces: 6 },
      { name: 'lm_head.weight', pieces: 6 },
    ]);
  });
});
