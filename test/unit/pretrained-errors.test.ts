/**
 * What loadPretrained (src/pretrained/load.ts) says when a model cannot be loaded, served by the
 * local hub (test/shared/local-hub.ts): a truncated safetensors file, a config.json without
 * n_head, a tensor whose shape disagrees with config.json, no tokenizer, an id the hub does not
 * have, a bad id, a gated model, only lm_head, a missing tensor, an extra block, and no weights.
 * Each error names the file, the field or tensor, what was given and what is allowed; a failed
 * load leaves nothing in the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { TensorFileError } from '../../src/inputs/tensors';
import type { GptConfig } from '../../src/model/schema';
import { ModelSourceError, PretrainedFileError } from '../../src/pretrained/errors';
import type { ModelCache } from '../../src/pretrained/hub';
import { loadPretrained } from '../../src/pretrained/load';
import { TokenizerFileError } from '../../src/pretrained/tokenizer';
import { synthGpt2Checkpoint, tensorRange } from '../shared/gpt2-checkpoint';
import { startLocalHub, type LocalHub } from '../shared/local-hub';
import { tinyTokenizerFiles } from '../shared/tiny-tokenizer';

const CONFIG: GptConfig = { vocabSize: tinyTokenizerFiles().vocabSize, context: 16, dModel: 12, heads: 3, layers: 2, dMlp: 20 };
const good = synthGpt2Checkpoint({ config: CONFIG, seed: 7, maskBuffers: true });
const weights = good.files['model.safetensors'];
const cutAt = tensorRange(weights, 'h.0.mlp.c_fc.weight').begin + 40;

const models: Record<string, Record<string, Uint8Array>> = {
  'bad/truncated': { ...good.files, 'model.safetensors': weights.slice(0, cutAt) },
  'bad/no-n-head': synthGpt2Checkpoint({ config: CONFIG, configOverrides: { n_head: undefined } }).files,
  'bad/shape': synthGpt2Checkpoint({ config: CONFIG, configOverrides: { n_inner: 24 } }).files,
  'bad/no-tokenizer': synthGpt2Checkpoint({ config: CONFIG, noTokenizer: true }).files,
  'bad/only-lm-head': synthGpt2Checkpoint({ config: CONFIG, lmHead: true, dropTensors: ['wte.weight'] }).files,
  'bad/missing-tensor': synthGpt2Checkpoint({ config: CONFIG, prefix: true, dropTensors: ['transformer.h.1.ln_2.bias'] }).files,
  'bad/extra-block': synthGpt2Checkpoint({ config: CONFIG, configOverrides: { n_layer: 1 } }).files,
  'bad/mistral': synthGpt2Checkpoint({ config: CONFIG, configOverrides: { model_type: 'mistral' } }).files,
  'bad/llama': synthGpt2Checkpoint({ config: CONFIG, configOverrides: { model_type: 'llama' } }).files,
  'bad/small-vocab': synthGpt2Checkpoint({ config: { ...CONFIG, vocabSize: 200 } }).files,
  'bad/no-weights': Object.fromEntries(Object.entries(good.files).filter(([name]) => name !== 'model.safetensors')),
  'bad/shard-path': {
    ...synthGpt2Checkpoint({ config: CONFIG, shards: 2 }).files,
    'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ weight_map: { 'wte.weight': '../secret.safetensors' } })),
  },
};
let hub: LocalHub;
beforeAll(async () => {
  hub = await startLocalHub(models, { redirectOver: 2048 });
});
afterAll(async () => {
  await hub.stop();
});

/** The error a load rejects with, checked to be an instance of `type`. */
async function failure<E extends Error>(type: abstract new (...args: never[]) => E, id: string, cache: ModelCache | null = null): Promise<E> {
  const error: unknown = await loadPretrained(id, { hub: hub.url, cache }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `loading ${id} should fail`).toBeInstanceOf(type);
  expect(error).toBeInstanceOf(AttentionError);
  return error as E;
}

describe('loadPretrained errors', () => {
  it('a truncated safetensors file names the tensor cut off', async () => {
    const error = await failure(TensorFileError, 'bad/truncated');
    expect(error.file).toBe('model.safetensors');
    expect(error.field).toBe('length');
    expect(error.tensor).toBe('h.0.mlp.c_fc.weight');
    expect(error.message).toContain('the file ended after 40 of the tensor\'s 960 bytes');
    expect(error.message).toContain('is the file truncated?');
  });

  it('a config.json without n_head names the field', async () => {
    const error = await failure(PretrainedFileError, 'bad/no-n-head');
    expect(error.file).toBe('config.json');
    expect(error.field).toBe('n_head');
    expect(error.message).toBe('config.json: n_head: got nothing (the field is missing); allowed: an integer from 1 to 2147483647: is this a GPT-2 config.json?');
  });

  it('a shape that disagrees with config.json names the tensor, the shape given and the shape expected, and caches nothing', async () => {
    const entries = new Map<string, Uint8Array>();
    const cache: ModelCache = {
      match: async () => undefined,
      put: async (url, response) => void entries.set(url, new Uint8Array(await response.arrayBuffer())),
      delete: async (url) => entries.delete(url),
    };
    const error = await failure(PretrainedFileError, 'bad/shape', cache);
    expect(error.file).toBe('model.safetensors');
    expect(error.tensor).toBe('h.0.mlp.c_fc.weight');
    expect(error.field).toBe('shape');
    expect(error.message).toContain('got [12, 20]; allowed: [12, 24] = [n_embd 12, n_inner 24] from config.json');
    expect(entries.size).toBe(0); // config.json and the tokenizer were stored, then forgotten
  });

  it('no tokenizer files: says which files to add', async () => {
    const error = await failure(TokenizerFileError, 'bad/no-tokenizer');
    expect(error.message).toContain('tokenizer.json, or vocab.json with merges.txt');
    expect(error.message).toContain('bad/no-tokenizer');
  });

  it('an id the hub does not have: HTTP 404, not found at the URL', async () => {
    const error = await failure(ModelSourceError, 'nobody/nothing');
    expect(error.status).toBe(404);
    expect(error.field).toBe('config.json');
    expect(error.url).toBe(`${hub.url}/nobody/nothing/resolve/main/config.json`);
    expect(error.message).toContain(`HTTP 404: not found at ${hub.url}/nobody/nothing/resolve/main/config.json`);
  });

  it('a bad id is refused before any request', async () => {
    const before = hub.requests.length;
    for (const id of ['../etc/passwd', 'a/b/c', 'gpt 2', 'owner/..', '', '-x']) {
      const error = await failure(ModelSourceError, id);
      expect(error.field, id).toBe('id');
      expect(error.message).toContain('"owner/name"');
    }
    expect(hub.requests.length).toBe(before);
  });

  it('a gated or private model (401/403) says a token is needed', async () => {
    for (const status of [401, 403]) {
      const error: unknown = await loadPretrained('meta/gated', { hub: hub.url, cache: null, fetch: async () => new Response('no', { status }) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelSourceError);
      expect((error as ModelSourceError).status).toBe(status);
      expect((error as Error).message).toContain('the model is gated or private, and reading it needs an access token');
    }
  });

  it("the hub's X-Error-Code tells a model that does not exist from a gated one", async () => {
    const answer = (code: string) => async () => new Response('', { status: 401, headers: { 'x-error-code': code } });
    const missing: unknown = await loadPretrained('nobody/nothing', { hub: hub.url, cache: null, fetch: answer('RepoNotFound') }).catch((e: unknown) => e);
    expect((missing as Error).message).toContain('the hub has no such model (RepoNotFound)');
    const gated: unknown = await loadPretrained('meta/gated', { hub: hub.url, cache: null, fetch: answer('GatedRepo') }).catch((e: unknown) => e);
    expect((gated as Error).message).toContain('the model is gated or private, and reading it needs an access token;');
  });

  it('a URL that does not end in "/" says to add it', async () => {
    const error: unknown = await loadPretrained(`${hub.url}/x/resolve/main`, { cache: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as ModelSourceError).field).toBe('url');
    expect((error as Error).message).toContain('ending in "/"');
  });

  it('only lm_head.weight (no wte) is refused from the header', async () => {
    const error = await failure(PretrainedFileError, 'bad/only-lm-head');
    expect(error.field).toBe('wte.weight');
    expect(error.tensor).toBe('lm_head.weight');
  });

  it('a missing tensor is named after the file is read', async () => {
    const error = await failure(PretrainedFileError, 'bad/missing-tensor');
    expect(error.field).toBe('tensor');
    expect(error.tensor).toBe('h.1.ln_2.bias');
    expect(error.message).toContain('got no h.1.ln_2.bias');
  });

  it('a block beyond n_layer is named with the config field', async () => {
    const error = await failure(PretrainedFileError, 'bad/extra-block');
    expect(error.tensor).toBe('h.1.ln_1.weight');
    expect(error.message).toContain('block 1, but config.json has n_layer 1');
  });

  it('an architecture the kernels do not compute is refused naming model_type and the supported ones', async () => {
    const error = await failure(PretrainedFileError, 'bad/mistral');
    expect(error.field).toBe('model_type');
    expect(error.message).toContain('got "mistral"');
    expect(error.message).toContain('"gpt2" (gpt2, distilgpt2, gpt2-medium/large/xl and fine-tunes), "llama" (Llama 2/3, TinyLlama, SmolLM2) or "qwen2" (Qwen2, Qwen2.5)');
  });

  it('GPT-2 files whose config.json says llama are read as a Llama config and refused at its first missing field', async () => {
    const error = await failure(PretrainedFileError, 'bad/llama');
    expect(error.field).toBe('hidden_size');
    expect(error.message).toContain('got nothing (the field is missing)');
    expect(error.message).toContain('is this a complete llama config.json?');
  });

  it('a vocab_size smaller than the tokenizer is refused', async () => {
    const error = await failure(PretrainedFileError, 'bad/small-vocab');
    expect(error.field).toBe('vocab_size');
    expect(error.message).toContain(`at least the tokenizer's ${CONFIG.vocabSize} ids`);
  });

  it('no model.safetensors and no index: names both', async () => {
    const error = await failure(ModelSourceError, 'bad/no-weights');
    expect(error.field).toBe('model.safetensors');
    expect(error.message).toContain('neither model.safetensors nor model.safetensors.index.json');
  });

  it('an index naming a shard outside the folder is refused', async () => {
    const error = await failure(PretrainedFileError, 'bad/shard-path');
    expect(error.file).toBe('model.safetensors.index.json');
    expect(error.field).toBe('weight_map["wte.weight"]');
    expect(hub.requests.some((r) => r.includes('secret'))).toBe(false);
  });

  it('picked files without config.json say what to pick', async () => {
    const { 'config.json': _config, ...rest } = good.files;
    const blobs = Object.fromEntries(Object.entries(rest).map(([name, bytes]) => [name, new Blob([bytes as Uint8Array<ArrayBuffer>])]));
    const error: unknown = await loadPretrained(blobs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as ModelSourceError).field).toBe('config.json');
    expect((error as Error).message).toContain('config.json: got not among the files picked; allowed: the files of a GPT-2 or Llama-family checkpoint');
  });
});
