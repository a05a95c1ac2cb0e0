/**
 * Model files from the Hugging Face hub (or a mirror, or any server laid out the same way:
 * `<endpoint>/<id>/resolve/main/<file>`), streamed with progress in bytes, and kept in a browser
 * cache so a second visit opens the model without the network. The hub answers large files with
 * a 302 to its CDN; fetch follows it (the CDN allows any origin). Nothing here holds a file: the
 * body is handed on as a stream, and the cache is fed from the same chunks as they are read.
 */
import { AttentionAbortError } from '../core/errors';
import { countParams } from '../model/schema';
import { countLlamaParams, type LlamaConfig } from '../model/llama-schema';
import { ModelSourceError } from './errors';

/** The hub's address. */
export const DEFAULT_HUB = 'https://huggingface.co';

/** The Cache Storage cache the app keeps model files in (the version is part of the name, so a new layout starts afresh). */
export const MODEL_CACHE_NAME = 'attention-lens-models-v1';

/** What the hub allows in a repository name (and an owner): letters, digits, '.', '_', '-'. */
const ID_PART = /^[A-Za-z0-9._-]{1,96}$/;

/**
 * Check a hub model id: `name` or `owner/name`, each part letters, digits, '.', '_' or '-', no
 * "..", not starting or ending with '.' or '-'. Returns it; throws {@link ModelSourceError} on
 * field `id` otherwise (so a typed id never becomes a path elsewhere on the server).
 */
export function checkModelId(id: unknown): string {
  const allowed = 'a hub model id, "name" or "owner/name" (e.g. "openai-community/gpt2"): letters, digits, ".", "_" and "-", no ".."';
  if (typeof id !== 'string') throw new ModelSourceError('id', typeof id, allowed);
  const parts = id.split('/');
  const bad = parts.length > 2 || id.includes('..') || parts.some((part) => !ID_PART.test(part) || /^[.-]|[.-]$/.test(part));
  if (bad) throw new ModelSourceError('id', JSON.stringify(id.slice(0, 120)), allowed);
  return id;
}

/**
 * The base URL of a hub model's files: `<endpoint>/<id>/resolve/main/`. `endpoint` is an
 * http(s) URL (a trailing '/' is fine); throws {@link ModelSourceError} for a bad endpoint
 * (field `hub`) or id (field `id`).
 */
export function hubBase(endpoint: string, id: string): string {
  checkModelId(id);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ModelSourceError('hub', JSON.stringify(String(endpoint).slice(0, 120)), 'an http(s) URL such as "https://huggingface.co" or a mirror\'s address');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new ModelSourceError('hub', JSON.stringify(endpoint.slice(0, 120)), 'an http: or https: URL without ?query or #fragment, such as "https://huggingface.co"');
  }
  return `${url.href.replace(/\/+$/, '')}/${id}/resolve/main/`;
}

/** Where model files are kept between visits: Cache Storage in the app, a Map in tests. */
export interface ModelCache {
  /** The stored response for `url`, if any. */
  match(url: string): Promise<Response | undefined>;
  /** Store `response` for `url`; reads its body to the end (rejects if the body errors). */
  put(url: string, response: Response): Promise<void>;
  /** Forget `url` (a failed or truncated download must never be opened from the cache). */
  delete(url: string): Promise<unknown>;
}

/** The Cache Storage cache {@link MODEL_CACHE_NAME} when this context has Cache Storage (a secure page or worker), else null. */
export async function defaultModelCache(): Promise<ModelCache | null> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (storage === undefined) return null;
  try {
    const cache = await storage.open(MODEL_CACHE_NAME);
    return { match: (url) => cache.match(url), put: (url, response) => cache.put(url, response), delete: (url) => cache.delete(url) };
  } catch {
    return null; // Cache Storage can be refused (private windows, storage disabled): download without it
  }
}

/** Delete every cached model file (the whole {@link MODEL_CACHE_NAME} cache). Resolves false when there was nothing to delete. */
export async function clearModelCache(): Promise<boolean> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage === undefined ? false : storage.delete(MODEL_CACHE_NAME);
}

/** Bytes of one file read so far. */
export interface FileProgress {
  file: string;
  /** Bytes handed on so far (never decreases). */
  loaded: number;
  /** The file's size (content-length), or null when the server did not say. */
  total: number | null;
  fromCache: boolean;
}

/** Options of {@link fetchModelFile}. */
export interface FetchFileOptions {
  signal?: AbortSignal;
  /** Called as the body is read (by whoever reads the returned stream). */
  onProgress?: (progress: FileProgress) => void;
  /** Where to look first and keep the file; null or absent: no cache. */
  cache?: ModelCache | null;
  /** The fetch to use (default globalThis.fetch): a test's, or one that adds headers. */
  fetch?: typeof fetch;
}

/** An opened model file: its body as a stream, to be read once. */
export interface ModelFile {
  file: string;
  url: string;
  /** Its size in bytes when known. */
  size: number | null;
  fromCache: boolean;
  /** The body; reading it reports progress and feeds the cache. */
  stream: ReadableStream<Uint8Array>;
  /** Settles when the cache has stored the whole file (or given up: a cache is best-effort); never rejects. */
  cached: Promise<void>;
}

/**
 * Open `<base><file>`: from `options.cache` when it holds the URL (no network), else by fetch,
 * following redirects. A 404 is remembered in the cache too (an empty 404 response), so an
 * offline visit knows a model has no tokenizer.json or no single model.safetensors. The returned stream reports progress as it is read and, for a download,
 * feeds the cache chunk by chunk (pulled by the reader, so the file is never held twice); if the
 * body errors or is cancelled, or ends short of its content-length, the cache entry is deleted.
 * Rejects with {@link ModelSourceError}: field = `file`, status 404 for "not found at <url>"
 * (callers try another file for optional ones), 401/403 for a gated or private model, another
 * status, or no answer at all (network, CORS); AttentionAbortError when `signal` aborts.
 */
export async function fetchModelFile(base: string, file: string, options: FetchFileOptions = {}): Promise<ModelFile> {
  const url = new URL(file, base).href;
  const { signal, cache } = options;
  if (signal?.aborted) throw new AttentionAbortError();
  const hit = cache ? await cache.match(url).catch(() => undefined) : undefined;
  // A remembered 404: the file an optional one stands in for (tokenizer.json, model.safetensors)
  // is known to be absent, so an offline visit goes straight to the alternative.
  if (hit !== undefined && hit.status === 404) throw statusError(file, url, 404, '', true);
  if (hit !== undefined && hit.ok) {
    const size = contentLength(hit);
    return { file, url, size, fromCache: true, stream: instrument(hit, file, size, true, options, null, url), cached: Promise.resolve() };
  }
  let response: Response;
  try {
    response = await (options.fetch ?? globalThis.fetch)(url, { signal, redirect: 'follow' });
  } catch (error) {
    if (signal?.aborted) throw new AttentionAbortError();
    const why = error instanceof Error ? error.message : String(error);
    throw new ModelSourceError(file, `no answer from ${url} (${why})`, 'a reachable server that lets this page read it (CORS: Access-Control-Allow-Origin); check the address and the network, or open the files from disk', url);
  }
  if (!response.ok) {
    void response.body?.cancel().catch(() => undefined);
    if (response.status === 404 && cache) {
      // Remember the absence (awaited, so a failed load's clean-up can forget it again).
      await cache.put(url, new Response(null, { status: 404 })).catch(() => undefined);
    }
    throw statusError(file, url, response.status, response.statusText, false, response.headers.get('x-error-code'));
  }
  const size = contentLength(response);
  let cached: Promise<void> = Promise.resolve();
  let sink: ReadableStreamDefaultController<Uint8Array> | null = null;
  if (cache) {
    const copy = new ReadableStream<Uint8Array>({ start: (controller) => void (sink = controller) });
    const headers: Record<string, string> = { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' };
    if (size !== null) headers['content-length'] = String(size);
    cached = cache.put(url, new Response(copy, { status: 200, headers })).catch(async () => {
      await cache.delete(url).catch(() => undefined);
    });
  }
  return { file, url, size, fromCache: false, stream: instrument(response, file, size, false, options, sink, url), cached };
}

/** Whether `error` is a {@link ModelSourceError} for a file that is not there (HTTP 404, or not among the picked files). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ModelSourceError && error.status === 404;
}

/**
 * The error for an HTTP status. The hub answers 401 both for a gated or private model and for
 * one that does not exist (so as not to reveal private names); its X-Error-Code header
 * (RepoNotFound, GatedRepo, EntryNotFound), when the response exposes it, tells them apart.
 */
function statusError(file: string, url: string, status: number, statusText: string, remembered = false, errorCode: string | null = null): ModelSourceError {
  if (errorCode === 'RepoNotFound') {
    return new ModelSourceError(file, `HTTP ${status} at ${url}: the hub has no such model (RepoNotFound)`, 'the id of a model on this hub, "owner/name": check its spelling', url, status);
  }
  if (status === 404) {
    const given = `HTTP 404: not found at ${url}${remembered ? ' (remembered from an earlier visit: clear the model cache to ask again)' : ''}`;
    return new ModelSourceError(file, given, 'a file the model has: check the model id (owner/name) and the hub address', url, 404);
  }
  if (status === 401 || status === 403) {
    return new ModelSourceError(
      file,
      `HTTP ${status} at ${url}: the model is gated or private, and reading it needs an access token${errorCode === 'GatedRepo' ? '' : ' (or there is no such model: the hub answers the same)'}`,
      'a public model; for a gated one, download its files with your token and open them from disk',
      url,
      status,
    );
  }
  return new ModelSourceError(file, `HTTP ${status}${statusText ? ` ${statusText}` : ''} at ${url}`, 'HTTP 200: try again later, or open the files from disk', url, status);
}

/** content-length in bytes when it counts the body as read (not when the body is compressed). */
function contentLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding !== 'identity') return null;
  const text = response.headers.get('content-length');
  const value = text === null ? NaN : Number(text);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/**
 * The body as a stream that reports progress and copies each chunk to `sink` (the cache's
 * copy) as the reader pulls it: the copy never runs ahead of the reader. A body ending short of
 * `size`, an error or a cancel errors the copy, so the cache stores nothing.
 */
function instrument(response: Response, file: string, size: number | null, fromCache: boolean, options: FetchFileOptions, sink: ReadableStreamDefaultController<Uint8Array> | null, url: string): ReadableStream<Uint8Array> {
  const source = response.body?.getReader();
  let loaded = 0;
  const fail = (reason: unknown) => {
    try {
      sink?.error(reason);
    } catch {
      // already closed or errored
    }
  };
  options.onProgress?.({ file, loaded, total: size, fromCache });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = source === undefined ? { done: true, value: undefined } : await source.read();
        } catch (error) {
          const reason = options.signal?.aborted ? new AttentionAbortError() : error;
          fail(reason);
          throw reason;
        }
        if (result.done) {
          if (size !== null && loaded !== size) {
            const short = new ModelSourceError(file, `a download that ended after ${loaded} of its ${size} bytes at ${url}`, 'the whole file: try again (the connection was cut)', url);
            fail(short);
            controller.error(short);
            return;
          }
          sink?.close();
          controller.close();
          return;
        }
        loaded += result.value.length;
        sink?.enqueue(result.value);
        controller.enqueue(result.value);
        options.onProgress?.({ file, loaded, total: size, fromCache });
      },
      async cancel(reason) {
        fail(reason ?? new AttentionAbortError());
        await source?.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A model of the picker's short list. */
export interface HubModel {
  /** The hub id. */
  id: string;
  /** Its model.safetensors in bytes, as the hub lists it (see `downloadExact`). */
  downloadBytes: number;
  /** Whether downloadBytes is the file's exact size; false: rounded to the hub page's 3 digits. */
  downloadExact: boolean;
  layers: number;
  heads: number;
  dModel: number;
  /** Parameters (the output layer tied to wte, counted once). */
  params: number;
  /** Key/value heads (grouped-query attention); absent: one per head (GPT-2). */
  kvHeads?: number;
  /** How the file stores the weights (what the download size follows). */
  dtype: 'F32' | 'BF16';
  /** Gated on the hub: downloads need an account that accepted the licence and a token (this version sends none). */
  gated?: boolean;
}

const gpt2Sized = (id: string, downloadBytes: number, downloadExact: boolean, layers: number, heads: number, dModel: number): HubModel => ({
  id,
  downloadBytes,
  downloadExact,
  layers,
  heads,
  dModel,
  params: countParams({ vocabSize: 50257, context: 1024, dModel, heads, layers, dMlp: 4 * dModel }),
  dtype: 'F32',
});

/** A Llama-family entry: its config.json's sizes, its BF16 download as the hub page rounds it. */
const llamaSized = (id: string, downloadBytes: number, config: Omit<LlamaConfig, 'rmsNormEps' | 'ropeScaling' | 'oBias'>, gated = false): HubModel => ({
  id,
  downloadBytes,
  downloadExact: false,
  layers: config.layers,
  heads: config.heads,
  kvHeads: config.kvHeads,
  dModel: config.dModel,
  params: countLlamaParams({ ...config, rmsNormEps: 1e-5, ropeScaling: null, oBias: false }),
  dtype: 'BF16',
  ...(gated ? { gated } : {}),
});

/**
 * The picker's short list: GPT-2 and its family, then the Llama family's small models, with the size of model.safetensors. GPT-2's is
 * exact (548 105 171 bytes: its F32 weights, 124 439 808 × 4, its 12 causal-mask buffers of
 * 1024 × 1024 floats, and the header); the others are the hub pages' 3-digit sizes, the exact
 * counts not being at hand offline.
 */
export const HUB_MODELS: readonly HubModel[] = [
  gpt2Sized('openai-community/gpt2', 548_105_171, true, 12, 12, 768),
  gpt2Sized('distilbert/distilgpt2', 353e6, false, 6, 12, 768),
  gpt2Sized('openai-community/gpt2-medium', 1.52e9, false, 24, 16, 1024),
  gpt2Sized('openai-community/gpt2-large', 3.25e9, false, 36, 20, 1280),
  gpt2Sized('openai-community/gpt2-xl', 6.43e9, false, 48, 25, 1600),
  // The Llama family (their config.json's sizes; BF16 files, sizes as the hub pages round them).
  llamaSized('HuggingFaceTB/SmolLM2-135M', 269e6, { modelType: 'llama', vocabSize: 49152, context: 8192, dModel: 576, heads: 9, kvHeads: 3, headDim: 64, layers: 30, dMlp: 1536, ropeTheta: 100000, tiedEmbeddings: true, qkvBias: false }),
  llamaSized('Qwen/Qwen2.5-0.5B', 988e6, { modelType: 'qwen2', vocabSize: 151936, context: 32768, dModel: 896, heads: 14, kvHeads: 2, headDim: 64, layers: 24, dMlp: 4864, ropeTheta: 1e6, tiedEmbeddings: true, qkvBias: true }),
  llamaSized('TinyLlama/TinyLlama-1.1B-Chat-v1.0', 2.2e9, { modelType: 'llama', vocabSize: 32000, context: 2048, dModel: 2048, heads: 32, kvHeads: 4, headDim: 64, layers: 22, dMlp: 5632, ropeTheta: 10000, tiedEmbeddings: false, qkvBias: false }),
  llamaSized('meta-llama/Llama-3.2-1B', 2.47e9, { modelType: 'llama', vocabSize: 128256, context: 131072, dModel: 2048, heads: 32, kvHeads: 8, headDim: 64, layers: 16, dMlp: 8192, ropeTheta: 500000, tiedEmbeddings: true, qkvBias: false }, true),
];
