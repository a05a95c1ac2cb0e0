/**
 * The main thread's handle on the model's CPU forward worker (model-cpu.worker.ts): the f32
 * forward of the whole model, timed in the worker, for the "GPU vs CPU forward time per run" of
 * model mode. `forward()` returns a promise; `cancel()` (or aborting the run's signal) terminates
 * the worker and rejects what is pending with AttentionAbortError; the next call starts a fresh one.
 *
 * Parameters cross once, as with the reference client: each parameters object gets a number
 * (a WeakMap, so a dropped model is not kept alive by it), the first request of that number to
 * the current worker carries the parameters (copied: the page keeps its own), later ones only
 * the number. A fresh worker (after cancel or a crash) is sent them again.
 *
 * Threads: the forward is split over the worker and threads − 1 helper workers it starts
 * (model-cpu-shard.ts: each holds its heads', hidden units' and vocabulary rows' slices of the
 * weights, so the parameters are split, not copied per thread). Without cross-origin isolation
 * there is no SharedArrayBuffer: the parts exchange ln(x) and their T × d shares by messages,
 * twice per block, which the measured time includes.
 */
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { checkModelParams, checkTokenIds, describeValue, validateConfig } from '../model/schema';
import { checkLlamaConfig, checkLlamaParams, isLlamaConfig } from '../model/llama-schema';
import type { ModelRef } from './protocol';
import type { ModelCpuKernel, ModelCpuRequest, ModelCpuResponse } from './model-cpu-protocol';

export type { ModelCpuKernel } from './model-cpu-protocol';

/** What {@link ModelCpuClient.forward} resolves to. */
export interface ModelCpuRun {
  /** tokens × vocabSize logits of the f32 forward (empty with `logits: false`). */
  logits: Float32Array;
  /** Milliseconds of the forward in the worker (parameter upload, messages and the logits' copy excluded). */
  ms: number;
  /** Threads the forward ran on (1: the worker alone; n: the worker and n − 1 helpers). */
  threads: number;
  /** The matrix kernel it ran ('wasm-f32' wherever the engine has WebAssembly SIMD). */
  kernel: ModelCpuKernel;
  /** Whether this request carried the parameters (the worker's first of this model). */
  sentParams: boolean;
}

/** Options of {@link ModelCpuClient.forward}. */
export interface ModelCpuOptions {
  /** Aborting it cancels the run like {@link ModelCpuClient.cancel} (every pending run rejects). */
  signal?: AbortSignal;
  /** Send the logits back (default true); false returns only the time (GPT-2's at 1024 tokens are 200 MB). */
  logits?: boolean;
  /** The first row whose logits are computed and sent (Llama-family models only; default 0): a long run's are T × vocab. */
  logitsFrom?: number;
}

/** The model's f32 CPU forward in a worker (module comment). */
export interface ModelCpuClient {
  /**
   * The f32 forward of `tokens` through the whole model, in the worker. Throws (rejects) with
   * AttentionInputError for a bad config, parameters that do not match it (ModelParamsError) or
   * Float64 parameters, tokens of length 0 or beyond the context, or an id outside the vocabulary,
   * before anything is sent; with AttentionAbortError when cancelled.
   */
  forward(config: ModelConfig, params: ReadonlyMap<string, Float32Array>, tokens: readonly number[], options?: ModelCpuOptions): Promise<ModelCpuRun>;
  /** Terminate the worker (its copy of the parameters goes with it); pending runs reject with AttentionAbortError. */
  cancel(): void;
  /** The threads each forward is split over (the option, or its default). */
  readonly threads: number;
}

/** At most this many threads by default: more rarely helps, and each exchange grows with them. */
export const MAX_MODEL_CPU_THREADS = 8;

/** Options of {@link createModelCpuClient}. */
export interface ModelCpuClientOptions {
  /**
   * Threads to split each forward over; 1 runs it in the worker alone. Default: one fewer than
   * navigator.hardwareConcurrency (the page and the GPU process keep a core), at least 1, at
   * most {@link MAX_MODEL_CPU_THREADS}. Each block waits for the slowest part twice, so a split
   * pays off only on cores that are free: on this project's 2-core machine shared with other
   * jobs, 2 threads were no faster than 1.
   */
  threads?: number;
}

/**
 * Start a client; its worker starts on the first forward (and its helpers when a model arrives).
 * Throws AttentionInputError for `threads` that is not an integer from 1 to 64.
 */
export function createModelCpuClient(options: ModelCpuClientOptions = {}): ModelCpuClient {
  const cores = (typeof navigator === 'object' ? navigator.hardwareConcurrency : 1) || 1;
  const threads = options.threads ?? Math.max(1, Math.min(MAX_MODEL_CPU_THREADS, cores - 1));
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new AttentionInputError('threads', describeValue(threads), 'an integer from 1 to 64 (1: the worker alone)', 'type');
  }
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (run: Omit<ModelCpuRun, 'sentParams'>) => void; reject: (e: Error) => void }>();
  const keys = new WeakMap<ReadonlyMap<string, Float32Array>, number>();
  /** Parameters objects already checked against a config (by key and config). */
  const checked = new Map<number, ModelConfig>();
  let nextKey = 1;
  /** The key of the parameters the current worker holds (null: none, or no worker). */
  let sentKey: number | null = null;

  /** End the worker (and its helpers with it); what is pending rejects with `error`. */
  const reset = (error: Error) => {
    worker?.terminate();
    worker = null;
    sentKey = null;
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  const cancel = () => reset(new AttentionAbortError());

  const start = () => {
    const w = new Worker(new URL('./model-cpu.worker.ts', import.meta.url), { type: 'module', name: 'model CPU forward' });
    w.onmessage = (event: MessageEvent<ModelCpuResponse>) => {
      const data = event.data;
      const entry = pending.get(data.id);
      if (!entry) return;
      pending.delete(data.id);
      if (data.ok) {
        entry.resolve({ logits: data.logits, ms: data.ms, threads: data.threads, kernel: data.kernel });
        return;
      }
      const error = new AttentionError(data.error.message);
      error.name = data.error.name;
      entry.reject(error);
      // The worker dropped its model with its helpers: start afresh (the parameters go again).
      if (data.broken === true) reset(error);
    };
    w.onerror = (event) => reset(new AttentionError(`The model CPU worker failed: ${event.message}. Run it again (a fresh worker starts).`));
    return w;
  };

  /** Check the request on this thread, so a bad one throws the real error class before any copy. */
  const check = (key: number, config: ModelConfig, params: ReadonlyMap<string, Float32Array>, tokens: readonly number[]) => {
    // A Llama-family config keeps every field (its architecture, head_dim, RoPE); GPT-2's is its six sizes.
    const llama = isLlamaConfig(config);
    const c: ModelConfig = llama ? (checkLlamaConfig(config), { ...config }) : validateConfig(config);
    const seen = checked.get(key);
    if (seen === undefined || JSON.stringify(seen) !== JSON.stringify(c)) {
      if (llama) checkLlamaParams(config, params);
      else checkModelParams(c, params);
      const wte = params.get(llama ? 'model.embed_tokens.weight' : 'wte.weight');
      if (!(wte instanceof Float32Array)) {
        throw new AttentionInputError('params', describeValue(wte), 'Float32Array parameters (the CPU forward runs in float32)', 'type');
      }
      checked.set(key, c);
    }
    if (!Array.isArray(tokens) || tokens.length < 1 || tokens.length > c.context) {
      throw new AttentionInputError('tokens', Array.isArray(tokens) ? `length ${tokens.length}` : describeValue(tokens), `from 1 to ${c.context} token ids (the context)`, 'length');
    }
    checkTokenIds('tokens', tokens, c.vocabSize);
    return c;
  };

  return {
    async forward(config, params, tokens, options = {}) {
      const { signal } = options;
      if (signal?.aborted) throw new AttentionAbortError();
      let key = keys.get(params);
      if (key === undefined) {
        key = nextKey++;
        keys.set(params, key);
      }
      const c = check(key, config, params, tokens);
      worker ??= start();
      const sentParams = sentKey !== key;
      // Copied (structured clone), not moved: the page keeps its parameters.
      const model: ModelRef = sentParams ? { key, config: c, params: new Map(params) } : { key, config: c };
      sentKey = key;
      const request: ModelCpuRequest = { id: nextId++, model, tokens: [...tokens], logits: options.logits ?? true, threads, ...(options.logitsFrom ? { logitsFrom: options.logitsFrom } : {}) };
      const onAbort = () => cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const run = await new Promise<Omit<ModelCpuRun, 'sentParams'>>((resolve, reject) => {
          pending.set(request.id, { resolve, reject });
          try {
            worker!.postMessage(request);
          } catch (error) {
            // Nothing reached the worker (e.g. a detached buffer): neither did the parameters.
            pending.delete(request.id);
            sentKey = null;
            reject(new AttentionError(`The model CPU worker could not be sent the request: ${(error as Error).message}. Run it again.`));
          }
        });
        return { ...run, sentParams };
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    cancel,
    threads,
  };
}
