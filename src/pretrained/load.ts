/**
 * loadPretrained: a GPT-2-family or Llama-family (llama, qwen2) checkpoint from the hub (an id), any server laid out like it
 * (a base URL ending in "/"), or files the user picked or dropped (name → Blob), into the
 * parameters of its family's schema (src/model/schema.ts for GPT-2, src/model/llama-schema.ts for
 * the Llama family: config.json's model_type decides), its config and its own tokenizer. config.json is
 * read first, so every tensor's shape is checked against it as the header arrives (and the app
 * can check the model fits the device, `onConfig`, before the weights download); the tokenizer
 * next (small, and a model without one cannot be shown); then the weights stream in one tensor
 * at a time (safetensors-stream.ts). On failure, the files this load cached are forgotten.
 */
import { AttentionAbortError } from '../core/errors';
import type { SafetensorsEntry } from '../inputs/safetensors';
import { checkLlamaParams } from '../model/llama-schema';
import { checkModelParams, type GptParams } from '../model/schema';
import { ParamCollector } from './checkpoint-params';
import { isLlamaFamily, parseJsonFile, parseModelConfig, type PretrainedConfig } from './config';
import { ModelSourceError, PretrainedFileError } from './errors';
import { DEFAULT_HUB, defaultModelCache, fetchModelFile, hubBase, isNotFound, type ModelCache, type ModelFile } from './hub';
import { readSafetensorsStream } from './safetensors-stream';
import { loadTokenizer, type ModelTokenizer, type TokenizerFiles } from './tokenizer';

/** Where a model comes from: a hub id, a base URL ending in "/", or picked files by name. */
export type PretrainedSource = string | Readonly<Record<string, Blob>>;

/** Bytes read so far, for a progress bar. */
export interface LoadProgress {
  /** The file being read. */
  file: string;
  fileLoaded: number;
  fileTotal: number | null;
  /** Bytes of every file of this load read so far (never decreases). */
  loaded: number;
  /** The sizes of the files opened so far (grows as files open), or null while one has no known size. */
  total: number | null;
  fromCache: boolean;
}

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** The hub's address for an id (default https://huggingface.co; a mirror uses the same layout). */
  hub?: string;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** Where downloads are kept: default Cache Storage when the page has it; null for none. */
  cache?: ModelCache | null;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Called with config.json's sizes before the tokenizer and weights are read: throw to stop (a model too large for the device). */
  onConfig?: (config: PretrainedConfig) => void | Promise<void>;
}

/** A loaded checkpoint. */
export interface PretrainedModel {
  /** The id, the URL's last folder, or the picked files' model (config.json's _name_or_path, else "local files"). */
  name: string;
  /** GPT-2's sizes (modelType 'gpt2') or a Llama-family config (modelType 'llama' or 'qwen2'). */
  config: PretrainedConfig;
  /** Float32 parameters by schema name, in schema order (checkModelParams, or checkLlamaParams for the Llama family, passes). */
  params: GptParams;
  tokenizer: ModelTokenizer;
  /** The dtype the weights were stored in ('mixed' for several). */
  dtype: 'F32' | 'F16' | 'BF16' | 'F64' | 'mixed';
  /** Bytes of every file read. */
  fileBytes: number;
  /** Whether every file came from the cache (no network). */
  fromCache: boolean;
  /** The files read, in order. */
  files: string[];
}

/** One opened file of a load (a download, a cache entry, or a picked Blob). */
type Opener = (file: string) => Promise<ModelFile>;

const PICK_ADVICE = 'the files of a GPT-2 or Llama-family checkpoint: config.json, model.safetensors (or model.safetensors.index.json and its shards), and tokenizer.json (or vocab.json and merges.txt); pick or drop them together';

/**
 * Load a GPT-2-family or Llama-family checkpoint (module comment). Rejects with ModelSourceError (a bad id or
 * URL, a file not found, a gated model, no network), PretrainedFileError (config.json, the index,
 * a tensor's shape, a missing tensor), TensorFileError (a safetensors file breaking the format,
 * or truncated, naming the tensor), TokenizerFileError (no or broken tokenizer files), whatever
 * `onConfig` throws, or AttentionAbortError when `options.signal` aborts.
 */
export async function loadPretrained(source: PretrainedSource, options: LoadPretrainedOptions = {}): Promise<PretrainedModel> {
  const { signal } = options;
  const files: string[] = [];
  const opened: ModelFile[] = [];
  let loadedBefore = 0; // bytes of the files finished
  let known: number | null = 0; // sizes of the files opened
  const progress = (file: ModelFile, fileLoaded: number) => {
    options.onProgress?.({ file: file.file, fileLoaded, fileTotal: file.size, loaded: loadedBefore + fileLoaded, total: known, fromCache: file.fromCache });
  };

  let name: string;
  let open: Opener;
  let cache: ModelCache | null = null;
  if (typeof source === 'string') {
    if (!source.endsWith('/') && /^[a-z]+:\/\//i.test(source)) {
      throw new ModelSourceError('url', JSON.stringify(source.slice(0, 200)), `a base URL ending in "/" (the folder holding config.json: "${source.slice(0, 120)}/"), or a hub model id`);
    }
    const base = source.endsWith('/') ? checkBaseUrl(source) : hubBase(options.hub ?? DEFAULT_HUB, source);
    name = source.endsWith('/') ? nameOfBase(base) : source;
    cache = options.cache === undefined ? await defaultModelCache() : options.cache;
    let current: ModelFile | null = null;
    open = async (file) => {
      const got = await fetchModelFile(base, file, { signal, cache, fetch: options.fetch, onProgress: (p) => current && progress(current, p.loaded) });
      current = got;
      return got;
    };
  } else if (typeof source === 'object' && source !== null) {
    name = 'local files';
    open = async (file) => openBlob(source, file, progress);
  } else {
    throw new ModelSourceError('source', String(source), 'a hub model id, a base URL ending in "/", or a record of file name → Blob');
  }

  /** Open a file and account for it; the caller reads its stream to the end. */
  const start = async (file: string): Promise<ModelFile> => {
    if (signal?.aborted) throw new AttentionAbortError();
    const got = await open(file);
    files.push(file);
    opened.push(got);
    known = known === null || got.size === null ? null : known + got.size;
    progress(got, 0);
    return got;
  };
  /** A file read to its end: its bytes join the total of finished files. */
  const finish = (bytes: number) => {
    loadedBefore += bytes;
  };
  const text = async (file: string): Promise<string> => {
    const got = await start(file);
    const body = await readAll(got.stream, signal);
    finish(body.length);
    return new TextDecoder().decode(body);
  };
  const absent: string[] = []; // URLs answered 404 (remembered by the cache; forgotten if the load fails)
  const notFound = (error: unknown): boolean => {
    if (!isNotFound(error)) return false;
    const url = (error as ModelSourceError).url;
    if (url !== undefined) absent.push(url);
    return true;
  };
  const optionalText = async (file: string): Promise<string | undefined> => {
    try {
      return await text(file);
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  };

  try {
    const configText = await text('config.json');
    const config = parseModelConfig(configText, 'config.json');
    if (typeof source !== 'string') {
      const named = (parseJsonFile(configText, 'config.json') as Record<string, unknown>)._name_or_path;
      if (typeof named === 'string' && named.length > 0) name = named;
    }
    await options.onConfig?.(config);

    const tokenizerFiles: TokenizerFiles = {};
    tokenizerFiles.tokenizerJson = await optionalText('tokenizer.json');
    if (tokenizerFiles.tokenizerJson === undefined) {
      tokenizerFiles.vocabJson = await optionalText('vocab.json');
      tokenizerFiles.mergesTxt = await optionalText('merges.txt');
    }
    const tokenizer = loadTokenizer(tokenizerFiles, name);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new PretrainedFileError(
        'config.json',
        'vocab_size',
        String(config.vocabSize),
        `at least the tokenizer's ${tokenizer.vocabSize} ids (wte needs a row per token id): are the tokenizer files this model's?`,
        'shape',
      );
    }

    // The weights: one file, or an index and its shards, each read once in name order.
    // `collectorFor` gets the file's header: a single file's names are the whole checkpoint's.
    const readWeights = async (file: string, collectorFor: (entries: readonly SafetensorsEntry[]) => ParamCollector, expected?: ReadonlySet<string>) => {
      const got = await start(file);
      let collector: ParamCollector | undefined;
      const result = await readSafetensorsStream(got.stream, {
        file,
        totalBytes: got.size,
        signal,
        onHeader: (entries) => {
          collector = collectorFor(entries);
          return collector.planFile(file, entries, expected);
        },
        onTensor: (entry, data) => collector!.accept(entry, data),
      });
      // Read what follows the last tensor too, so the cache holds the whole file.
      finish(result.bytesRead + (await drain(got.stream, signal)));
      return collector!;
    };
    let collector: ParamCollector;
    try {
      collector = await readWeights('model.safetensors', (entries) => new ParamCollector(config, entries.map((e) => e.name), 'model.safetensors'));
    } catch (error) {
      if (!notFound(error)) throw error;
      const indexText = await optionalText('model.safetensors.index.json');
      if (indexText === undefined) {
        throw new ModelSourceError(
          'model.safetensors',
          `neither model.safetensors nor model.safetensors.index.json ${typeof source === 'string' ? 'at ' + (error as ModelSourceError).url : 'among the files'}`,
          typeof source === 'string' ? 'a model with safetensors weights (older repositories with only pytorch_model.bin cannot be read here)' : PICK_ADVICE,
          (error as ModelSourceError).url,
          404,
        );
      }
      const shards = readIndex(indexText);
      const sharded = new ParamCollector(config, shards.keys(), 'model.safetensors.index.json');
      const byShard = new Map<string, Set<string>>();
      for (const [tensor, shard] of shards) byShard.set(shard, (byShard.get(shard) ?? new Set()).add(tensor));
      for (const shard of [...byShard.keys()].sort()) await readWeights(shard, () => sharded, byShard.get(shard));
      collector = sharded;
    }
    const params = collector.finish();
    if (isLlamaFamily(config)) checkLlamaParams(config, params);
    else checkModelParams(config, params);
    await Promise.all(opened.map((file) => file.cached));
    const dtypes = [...collector.dtypes];
    return {
      name,
      config,
      params,
      tokenizer,
      dtype: dtypes.length === 1 ? (dtypes[0] as PretrainedModel['dtype']) : 'mixed',
      fileBytes: loadedBefore,
      fromCache: opened.every((file) => file.fromCache),
      files,
    };
  } catch (error) {
    // A load that failed leaves nothing in the cache: a bad file must not come back on the next visit.
    // Cancel what is still open, let each cache write settle (a cancelled one stores nothing), then forget them all.
    await Promise.all(opened.map((file) => file.stream.cancel().catch(() => undefined)));
    await Promise.all(opened.map((file) => file.cached));
    if (cache !== null) await Promise.all([...opened.map((file) => file.url), ...absent].map((url) => cache.delete(url).catch(() => undefined)));
    if (signal?.aborted && !(error instanceof AttentionAbortError)) throw new AttentionAbortError();
    throw error;
  }
}

/**
 * A base URL: absolute http(s). A path on the page's own server ('/models/gpt2/') is the app's
 * to resolve against its location (src/ui), which this layer does not read.
 */
function checkBaseUrl(base: string): string {
  try {
    const url = new URL(base);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // refused below
  }
  throw new ModelSourceError('url', JSON.stringify(base.slice(0, 200)), 'an absolute http(s) URL of a folder holding the model files, ending in "/" (e.g. "http://localhost:8000/gpt2/")');
}

/** A model's name from its base URL: the id of a hub-style `…/<id>/resolve/<revision>/`, else the last folder. */
function nameOfBase(base: string): string {
  const parts = new URL(base).pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const resolve = parts.lastIndexOf('resolve');
  if (resolve > 0 && resolve === parts.length - 2) return parts.slice(Math.max(0, resolve - 2), resolve).join('/');
  return parts.pop() ?? new URL(base).host;
}

/** model.safetensors.index.json's weight_map: tensor → shard file. */
function readIndex(text: string): Map<string, string> {
  const file = 'model.safetensors.index.json';
  const json = parseJsonFile(text, file) as { weight_map?: unknown } | null;
  const map = typeof json === 'object' && json !== null ? json.weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
    throw new PretrainedFileError(file, 'weight_map', map === undefined ? 'nothing' : JSON.stringify(map).slice(0, 80), 'an object of tensor name → shard file name ("model-00001-of-00002.safetensors")');
  }
  const shards = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    // A shard is a file next to the index: no folders, so the index cannot send us elsewhere.
    if (typeof shard !== 'string' || !/^[A-Za-z0-9._-]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new PretrainedFileError(file, `weight_map[${JSON.stringify(tensor)}]`, JSON.stringify(shard)?.slice(0, 80) ?? 'nothing', 'a .safetensors file name next to the index (letters, digits, ".", "_", "-")');
    }
    shards.set(tensor, shard);
  }
  return shards;
}

/** A picked file by name (or by its last path part: a dropped folder's files carry their folder). */
function openBlob(files: Readonly<Record<string, Blob>>, file: string, progress: (file: ModelFile, loaded: number) => void): Promise<ModelFile> {
  const key = Object.hasOwn(files, file) ? file : Object.keys(files).find((k) => k.split('/').pop() === file);
  const blob = key === undefined ? undefined : files[key];
  if (!(blob instanceof Blob)) {
    return Promise.reject(new ModelSourceError(file, 'not among the files picked', PICK_ADVICE, undefined, 404));
  }
  let loaded = 0;
  const reader = blob.stream().getReader();
  const opened: ModelFile = {
    file,
    url: `file:${file}`,
    size: blob.size,
    fromCache: false,
    cached: Promise.resolve(),
    stream: new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          loaded += value.length;
          controller.enqueue(value);
          progress(opened, loaded);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    ),
  };
  return Promise.resolve(opened);
}

/** Read a stream to its end without keeping it; returns its byte count. */
async function drain(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<number> {
  const reader = stream.getReader();
  let length = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new AttentionAbortError();
      const { done, value } = await reader.read();
      if (done) return length;
      length += value.length;
    }
  } finally {
    reader.releaseLock();
  }
}

/** A small file's bytes (config, tokenizer). */
async function readAll(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new AttentionAbortError();
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
