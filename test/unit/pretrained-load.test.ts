/**
 * loadPretrained (src/pretrained/load.ts) against a local server laid out like the hub
 * (test/shared/local-hub.ts) serving synthesized checkpoints (test/shared/gpt2-checkpoint.ts,
 * whose writer and float16/bfloat16 rounding are its own): odd sizes (3 heads, dModel 12,
 * dMlp 20, 2 layers, the tiny tokenizer's vocabulary), F32/F16/BF16, sharded, with and without
 * the "transformer." prefix, lm_head and the mask buffers. The parameters must equal the
 * synthesized ones exactly, and the f64 forward reference on them must give the logits and
 * every layer's maps of the reference on the synthesized parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionAbortError, AttentionInputError } from '../../src/core/errors';
import type { GptConfig } from '../../src/model/schema';
import { forwardReference } from '../../src/model/forward-reference';
import { loadPretrained, type LoadProgress } from '../../src/pretrained/load';
import type { ModelCache } from '../../src/pretrained/hub';
import { synthGpt2Checkpoint, type SynthOptions } from '../shared/gpt2-checkpoint';
import { startLocalHub, type LocalHub } from '../shared/local-hub';
import { tinyTokenizerFiles } from '../shared/tiny-tokenizer';

const VOCAB = tinyTokenizerFiles().vocabSize;
const CONFIG: GptConfig = { vocabSize: VOCAB, context: 16, dModel: 12, heads: 3, layers: 2, dMlp: 20 };

/** A Map-backed ModelCache (Node has no Cache Storage): each URL's status and bytes. */
function memoryCache(): ModelCache & { entries: Map<string, { status: number; bytes: Uint8Array }> } {
  const entries = new Map<string, { status: number; bytes: Uint8Array }>();
  return {
    entries,
    match: async (url) => {
      const entry = entries.get(url);
      if (entry === undefined) return undefined;
      return new Response(entry.status === 404 ? null : entry.bytes.slice(), { status: entry.status, headers: { 'content-length': String(entry.bytes.length) } });
    },
    put: async (url, response) => {
      entries.set(url, { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) });
    },
    delete: async (url) => entries.delete(url),
  };
}

const VARIANTS: Array<{ id: string; options: Omit<SynthOptions, 'config'> }> = [
  { id: 'synth/f32-plain', options: { seed: 1, dtype: 'F32' } },
  { id: 'synth/f32-lmhead', options: { seed: 2, dtype: 'F32', prefix: true, lmHead: true, maskBuffers: true } },
  { id: 'synth/f16-prefix', options: { seed: 3, dtype: 'F16', prefix: true, maskBuffers: true } },
  { id: 'synth/bf16-sharded', options: { seed: 4, dtype: 'BF16', lmHead: true, shards: 3, tokenizerFormat: 'vocab+merges' } },
  { id: 'f32-sharded-masks', options: { seed: 5, dtype: 'F32', prefix: true, maskBuffers: true, shards: 2 } },
];

const checkpoints = new Map(VARIANTS.map(({ id, options }) => [id, synthGpt2Checkpoint({ config: CONFIG, ...options })]));
const models: Record<string, Record<string, Uint8Array>> = Object.fromEntries([...checkpoints].map(([id, c]) => [id, c.files]));
let hub: LocalHub;

beforeAll(async () => {
  hub = await startLocalHub(models, { redirectOver: 4096 });
});
afterAll(async () => {
  await hub.stop();
});

describe('loadPretrained from a local hub', () => {
  for (const { id, options } of VARIANTS) {
    it(`${id}: parameters exact, forward reference equal (${options.dtype}${options.shards ? `, ${options.shards} shards` : ''})`, async () => {
      const expected = checkpoints.get(id)!;
      const model = await loadPretrained(id, { hub: hub.url, cache: null });
      expect(model.name).toBe(id);
      expect(model.config).toEqual({ ...CONFIG, modelType: 'gpt2', layerNormEps: 1e-5, activation: 'gelu_new' });
      expect(model.dtype).toBe(options.dtype);
      expect(model.fromCache).toBe(false);
      expect([...model.params.keys()]).toEqual([...expected.params.keys()]);
      for (const [name, data] of expected.params) expect(model.params.get(name), name).toEqual(data);
      const bytes = Object.entries(expected.files).filter(([file]) => model.files.includes(file));
      expect(model.fileBytes).toBe(bytes.reduce((sum, [, b]) => sum + b.length, 0));

      // The tiny tokenizer: " the cat" → [Ġthe, Ġcat] = [258, 261].
      expect(model.tokenizer.encode(' the cat')).toEqual([258, 261]);
      const tokens = model.tokenizer.encode('the cat sat on the mat');
      const loaded = forwardReference(model.config, model.params, tokens);
      const reference = forwardReference(CONFIG, expected.params, tokens);
      expect(loaded.logits).toEqual(reference.logits);
      loaded.layers.forEach((layer, l) => expect(layer.weights, `layer ${l}`).toEqual(reference.layers[l].weights));
      if (options.dtype === 'F32') {
        expect(loaded.logits).toEqual(forwardReference(CONFIG, expected.original, tokens).logits);
      } else {
        // Rounded weights move the logits a little, not a lot: the reference on the unrounded ones.
        const unrounded = forwardReference(CONFIG, expected.original, tokens).logits;
        const worst = unrounded.reduce((m, v, i) => Math.max(m, Math.abs(v - loaded.logits[i])), 0);
        expect(worst).toBeGreaterThan(0);
        expect(worst).toBeLessThan(options.dtype === 'F16' ? 0.02 : 0.2);
      }
    });
  }

  it('follows the hub\'s redirects for large files and asks for each file once', async () => {
    const before = hub.requests.length;
    const model = await loadPretrained('synth/bf16-sharded', { hub: hub.url, cache: null });
    const asked = hub.requests.slice(before);
    expect(model.files).toEqual(['config.json', 'vocab.json', 'merges.txt', 'model.safetensors.index.json', 'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(asked.filter((r) => r.includes('/cdn/')).length).toBeGreaterThan(0);
    for (const file of model.files) expect(asked.filter((r) => r.endsWith(`/resolve/main/${file}`))).toHaveLength(1);
    // The optional files it tried first were asked once and answered 404.
    expect(asked.filter((r) => r.endsWith('/tokenizer.json') || r.endsWith('/model.safetensors'))).toHaveLength(2);
  });

  it('reports progress monotonically up to the total of the files read', async () => {
    const seen: LoadProgress[] = [];
    const model = await loadPretrained('synth/f32-lmhead', { hub: hub.url, cache: null, onProgress: (p) => seen.push({ ...p }) });
    expect(seen.length).toBeGreaterThan(model.files.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i].loaded).toBeGreaterThanOrEqual(seen[i - 1].loaded);
    const last = seen[seen.length - 1];
    expect(last.loaded).toBe(model.fileBytes);
    expect(last.total).toBe(model.fileBytes);
    expect(new Set(seen.map((p) => p.file))).toEqual(new Set(model.files));
    for (const p of seen) if (p.fileTotal !== null) expect(p.fileLoaded).toBeLessThanOrEqual(p.fileTotal);
  });

  for (const id of ['synth/f16-prefix', 'synth/bf16-sharded']) {
    it(`opens ${id} from the cache the second time, with the server stopped`, async () => {
      const files = checkpoints.get(id)!.files;
      const ownHub = await startLocalHub({ [id]: files }, { redirectOver: 4096 });
      const cache = memoryCache();
      const first = await loadPretrained(id, { hub: ownHub.url, cache });
      expect(first.fromCache).toBe(false);
      const fileOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);
      const stored = [...cache.entries].filter(([, e]) => e.status === 200).map(([url]) => fileOf(url));
      expect(stored.sort()).toEqual([...first.files].sort());
      for (const [url, entry] of cache.entries) if (entry.status === 200) expect(entry.bytes).toEqual(files[fileOf(url)]);
      // The files it tried and the server did not have are remembered as such.
      const absent = [...cache.entries].filter(([, e]) => e.status === 404).map(([url]) => fileOf(url));
      expect(absent).toEqual(id === 'synth/bf16-sharded' ? ['tokenizer.json', 'model.safetensors'] : []);
      const asked = ownHub.requests.length;
      await ownHub.stop();
      const second = await loadPretrained(id, { hub: ownHub.url, cache });
      expect(ownHub.requests.length).toBe(asked);
      expect(second.fromCache).toBe(true);
      expect(second.files).toEqual(first.files);
      expect(second.params).toEqual(first.params);
    });
  }

  it('cancels mid-download with AttentionAbortError and caches nothing', async () => {
    const id = 'synth/f32-plain';
    const slowHub = await startLocalHub({ [id]: checkpoints.get(id)!.files }, { chunkBytes: 512, chunkDelayMs: 5 });
    const cache = memoryCache();
    const controller = new AbortController();
    let weightsSeen = 0;
    const loading = loadPretrained(id, {
      hub: slowHub.url,
      cache,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.fileLoaded > 0 && ++weightsSeen === 3) controller.abort();
      },
    });
    await expect(loading).rejects.toBeInstanceOf(AttentionAbortError);
    expect(weightsSeen).toBe(3);
    expect(cache.entries.size).toBe(0);
    await slowHub.stop();
  });

  it('onConfig sees config.json first and can stop the load before the weights are asked for', async () => {
    const before = hub.requests.length;
    const stop = new AttentionInputError('model', 'too large', 'a smaller model', 'too-large');
    const seen: GptConfig[] = [];
    const error: unknown = await loadPretrained('synth/f32-plain', {
      hub: hub.url,
      cache: null,
      onConfig: (config) => {
        seen.push(config);
        throw stop;
      },
    }).catch((e: unknown) => e);
    expect(error).toBe(stop);
    expect(seen).toHaveLength(1);
    expect(seen[0].dMlp).toBe(20);
    expect(hub.requests.slice(before)).toEqual(['GET /synth/f32-plain/resolve/main/config.json']);
  });

  it('reads files picked from disk (Blobs, a dropped folder\'s paths too)', async () => {
    const expected = checkpoints.get('f32-sharded-masks')!;
    const blobs = Object.fromEntries(Object.entries(expected.files).map(([name, bytes]) => [`my-model/${name}`, new Blob([bytes as Uint8Array<ArrayBuffer>])]));
    const seen: number[] = [];
    const model = await loadPretrained(blobs, { onProgress: (p) => seen.push(p.loaded) });
    expect(model.name).toBe('synth-gpt2'); // config.json's _name_or_path
    expect(model.fromCache).toBe(false);
    for (const [name, data] of expected.params) expect(model.params.get(name), name).toEqual(data);
    expect(seen[seen.length - 1]).toBe(model.fileBytes);
  });

  it('reads a base URL ending in "/"', async () => {
    const model = await loadPretrained(`${hub.url}/synth/f32-plain/resolve/main/`, { cache: null });
    expect(model.name).toBe('synth/f32-plain');
    expect(model.params.get('wte.weight')).toEqual(checkpoints.get('synth/f32-plain')!.params.get('wte.weight'));
  });
});
