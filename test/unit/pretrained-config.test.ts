/**
 * config.json (src/pretrained/config.ts), hub addresses and the picker's list (hub.ts), and a
 * download's checks (fetchModelFile: a body shorter than its content-length is never cached).
 * Expected values are GPT-2's published sizes, written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { parseGpt2Config, readGpt2Config } from '../../src/pretrained/config';
import { ModelSourceError, PretrainedFileError } from '../../src/pretrained/errors';
import { DEFAULT_HUB, HUB_MODELS, checkModelId, fetchModelFile, hubBase, type ModelCache } from '../../src/pretrained/hub';
import { thrown } from './expect-thrown';

/** openai-community/gpt2's config.json (the fields that matter, as the hub serves them). */
const GPT2_CONFIG = `{
  "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
  "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
  "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
  "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
  "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
  "vocab_size": 50257
}`;

describe('readGpt2Config', () => {
  it("reads GPT-2's config.json", () => {
    expect(parseGpt2Config(GPT2_CONFIG)).toEqual({
      vocabSize: 50257,
      context: 1024,
      dModel: 768,
      heads: 12,
      layers: 12,
      dMlp: 3072,
      modelType: 'gpt2',
      layerNormEps: 1e-5,
      activation: 'gelu_new',
    });
  });

  it('falls back to n_ctx, takes n_inner when given, defaults the activation and ε', () => {
    const config = readGpt2Config({ n_embd: 12, n_head: 3, n_layer: 2, n_ctx: 16, vocab_size: 263, n_inner: 20 });
    expect(config).toEqual({ vocabSize: 263, context: 16, dModel: 12, heads: 3, layers: 2, dMlp: 20, modelType: 'gpt2', layerNormEps: 1e-5, activation: 'gelu_new' });
    expect(readGpt2Config({ n_embd: 12, n_head: 3, n_layer: 2, n_positions: 16, vocab_size: 263, activation_function: 'gelu_pytorch_tanh' }).activation).toBe('gelu_pytorch_tanh');
  });

  it('tie_word_embeddings false unties the output layer (lm_head.weight); true or absent keeps it tied', () => {
    const fields = { n_embd: 12, n_head: 3, n_layer: 2, n_positions: 16, vocab_size: 263 };
    expect(readGpt2Config({ ...fields, tie_word_embeddings: false }).tiedEmbeddings).toBe(false);
    expect(readGpt2Config({ ...fields, tie_word_embeddings: true })).not.toHaveProperty('tiedEmbeddings');
    expect(readGpt2Config(fields)).not.toHaveProperty('tiedEmbeddings');
  });

  const base = { n_embd: 12, n_head: 3, n_layer: 2, n_positions: 16, vocab_size: 263 };
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['n_head missing', { n_head: undefined }, 'n_head', 'got nothing (the field is missing)'],
    ['n_layer not an integer', { n_layer: 1.5 }, 'n_layer', 'got 1.5; allowed: an integer from 1'],
    ['n_embd a string', { n_embd: '12' }, 'n_embd', 'got "12"'],
    ['no n_positions or n_ctx', { n_positions: undefined }, 'n_positions', 'the field is missing'],
    ['n_embd not divisible by n_head', { n_embd: 13 }, 'n_head', 'got 3; allowed: a divisor of n_embd 13'],
    ['model_type llama', { model_type: 'llama' }, 'model_type', 'Llama and Qwen2 checkpoints go through parseLlamaConfig'],
    ['activation relu', { activation_function: 'relu' }, 'activation_function', 'got "relu"; allowed: "gelu_new" or "gelu_pytorch_tanh"'],
    ['ε 1e-6', { layer_norm_epsilon: 1e-6 }, 'layer_norm_epsilon', "got 0.000001; allowed: 0.00001: the kernels' LayerNorm ε"],
    ['scores scaled by layer', { scale_attn_by_inverse_layer_idx: true }, 'scale_attn_by_inverse_layer_idx', 'got true'],
    ['scores not scaled', { scale_attn_weights: false }, 'scale_attn_weights', 'got false'],
    ['tie_word_embeddings a string', { tie_word_embeddings: 'no' }, 'tie_word_embeddings', 'got "no"; allowed: true or false'],
  ];
  for (const [what, change, field, text] of cases) {
    it(`refuses ${what}, naming ${field}`, () => {
      const json: Record<string, unknown> = { ...base, ...change };
      for (const key of Object.keys(change)) if (change[key] === undefined) delete json[key];
      const error = thrown(PretrainedFileError, () => readGpt2Config(json, 'my/config.json'));
      expect(error.field).toBe(field);
      expect(error.file).toBe('my/config.json');
      expect(error.message.startsWith(`my/config.json: ${field}: `)).toBe(true);
      expect(error.message).toContain(text);
    });
  }

  it('refuses text that is not JSON, and JSON that is not an object', () => {
    expect(thrown(PretrainedFileError, () => parseGpt2Config('<html>404</html>')).field).toBe('json');
    expect(thrown(PretrainedFileError, () => readGpt2Config([1, 2])).message).toContain('config.json: config: got object');
  });
});

describe('hub addresses', () => {
  it('hubBase joins endpoint and id, with or without a trailing "/" and under a mirror\'s path', () => {
    expect(hubBase(DEFAULT_HUB, 'openai-community/gpt2')).toBe('https://huggingface.co/openai-community/gpt2/resolve/main/');
    expect(hubBase('https://huggingface.co/', 'gpt2')).toBe('https://huggingface.co/gpt2/resolve/main/');
    expect(hubBase('http://127.0.0.1:8080/mirror/', 'a/b')).toBe('http://127.0.0.1:8080/mirror/a/b/resolve/main/');
  });

  it('checkModelId accepts hub ids and refuses the rest', () => {
    for (const id of ['gpt2', 'openai-community/gpt2', 'distilbert/distilgpt2', 'a_b/c.d-e']) expect(checkModelId(id)).toBe(id);
    for (const id of ['', '..', 'a/../b', 'a/b/c', '/gpt2', 'gpt2/', 'a b', 'a?x=1', '.hidden', 'x-', 'a\\b']) {
      expect(thrown(ModelSourceError, () => checkModelId(id)).field, JSON.stringify(id)).toBe('id');
    }
    expect(thrown(ModelSourceError, () => hubBase('ftp://example.com', 'gpt2')).field).toBe('hub');
    expect(thrown(ModelSourceError, () => hubBase('not a url', 'gpt2')).field).toBe('hub');
    expect(thrown(ModelSourceError, () => hubBase('https://hub.test/?token=1', 'gpt2')).message).toContain('without ?query or #fragment');
  });

  it("HUB_MODELS: GPT-2's family and the Llama family's small models with their published sizes", () => {
    expect(HUB_MODELS.map((m) => [m.id, m.layers, m.heads, m.dModel, m.params])).toEqual([
      ['openai-community/gpt2', 12, 12, 768, 124_439_808],
      ['distilbert/distilgpt2', 6, 12, 768, 81_912_576],
      ['openai-community/gpt2-medium', 24, 16, 1024, 354_823_168],
      ['openai-community/gpt2-large', 36, 20, 1280, 774_030_080],
      ['openai-community/gpt2-xl', 48, 25, 1600, 1_557_611_200],
      // The model cards' counts: SmolLM2 134.5M, Qwen2.5 0.49B, TinyLlama 1.1B, Llama 3.2 1.24B.
      ['HuggingFaceTB/SmolLM2-135M', 30, 9, 576, 134_515_008],
      ['Qwen/Qwen2.5-0.5B', 24, 14, 896, 494_032_768],
      ['TinyLlama/TinyLlama-1.1B-Chat-v1.0', 22, 32, 2048, 1_100_048_384],
      ['meta-llama/Llama-3.2-1B', 16, 32, 2048, 1_235_814_400],
    ]);
    expect(HUB_MODELS.filter((m) => m.gated).map((m) => m.id)).toEqual(['meta-llama/Llama-3.2-1B']);
    // Every download holds at least its weights in the stored dtype; GPT-2's also its 12 mask buffers (1024² floats) and a header under 20 kB.
    for (const m of HUB_MODELS) expect(m.downloadBytes).toBeGreaterThan(m.params * (m.dtype === 'F32' ? 4 : 2) * 0.995);
    const gpt2 = HUB_MODELS[0];
    expect(gpt2.downloadExact).toBe(true);
    expect(gpt2.downloadBytes - (124_439_808 * 4 + 12 * 1024 * 1024 * 4)).toBeGreaterThan(0);
    expect(gpt2.downloadBytes - (124_439_808 * 4 + 12 * 1024 * 1024 * 4)).toBeLessThan(20_000);
  });
});

describe('fetchModelFile', () => {
  const recording = (): ModelCache & { stored: string[]; deleted: string[] } => {
    const stored: string[] = [];
    const deleted: string[] = [];
    return {
      stored,
      deleted,
      match: async () => undefined,
      put: async (url, response) => {
        await response.arrayBuffer();
        stored.push(url);
      },
      delete: async (url) => void deleted.push(url),
    };
  };
  const body = (bytes: number[], size: number) =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(Uint8Array.from(bytes));
          controller.close();
        },
      }),
      { headers: { 'content-length': String(size) } },
    );

  it('a body shorter than its content-length is an error and is not cached', async () => {
    const cache = recording();
    const file = await fetchModelFile('http://hub.test/m/resolve/main/', 'model.safetensors', { cache, fetch: async () => body([1, 2, 3], 10) });
    expect(file.size).toBe(10);
    const error: unknown = await new Response(file.stream).arrayBuffer().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as Error).message).toContain('a download that ended after 3 of its 10 bytes at http://hub.test/m/resolve/main/model.safetensors');
    await file.cached;
    expect(cache.stored).toEqual([]);
    expect(cache.deleted).toEqual(['http://hub.test/m/resolve/main/model.safetensors']);
  });

  it('a whole body is cached as it is read, with its progress', async () => {
    const cache = recording();
    const seen: number[] = [];
    const file = await fetchModelFile('http://hub.test/m/resolve/main/', 'config.json', { cache, fetch: async () => body([1, 2, 3], 3), onProgress: (p) => seen.push(p.loaded) });
    expect(new Uint8Array(await new Response(file.stream).arrayBuffer())).toEqual(Uint8Array.from([1, 2, 3]));
    await file.cached;
    expect(cache.stored).toEqual(['http://hub.test/m/resolve/main/config.json']);
    expect(seen).toEqual([0, 3]);
  });

  it('no answer at all says so, with the URL', async () => {
    const error: unknown = await fetchModelFile('http://hub.test/m/resolve/main/', 'config.json', {
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as Error).message).toContain('no answer from http://hub.test/m/resolve/main/config.json (fetch failed)');
  });
});
