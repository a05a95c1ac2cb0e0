/// <reference lib="webworker" />
/**
 * The model's f32 CPU forward, off the main thread: the timing card's "CPU" column for models
 * whose f64 reference forward the app no longer runs whole (GPT-2-family checkpoints are checked
 * on sampled rows instead). The forward is model-cpu-forward.ts's (forwardPass's layers with the
 * weights transposed once) through the WebAssembly SIMD matmul of src/train/simd-matmul.ts
 * summing in f32 lanes, the fastest kernel this project has on a CPU, so the GPU is compared
 * with a fair CPU and not with a strawman. With threads > 1 it is split over this worker and
 * threads − 1 helper workers (model-cpu-shard.ts, model-cpu-helper.worker.ts), which it starts
 * when the model arrives and which end with it (or with this worker: terminating it ends them).
 *
 * One model is kept (its parameters arrive once per key, as in the reference worker), prepared
 * when it arrives. The time is measured here around the forward only (with threads, the
 * exchanges with the helpers are part of it): the parameters' arrival, preparation and split,
 * the copy of the logits and the messages to the page are outside it.
 */
import { AttentionError } from '../core/errors';
import { matmulNT, type MatmulKernel } from '../model/matmul';
import { sharedSimdMatmul } from '../train/simd-matmul';
import { createCpuForward, prepareCpuModel, type CpuModel } from './model-cpu-forward';
import { createLlamaCpuForward, prepareLlamaCpuModel } from './llama-cpu-forward';
import { isLlamaConfig } from '../model/llama-schema';
import { createShardSteps, shardCpuModel, shardedForward, trunkOf, type ShardRunner } from './model-cpu-shard';
import type { ModelRef } from './protocol';
import type { ModelCpuHelperRequest, ModelCpuHelperResponse, ModelCpuKernel, ModelCpuRequest, ModelCpuResponse } from './model-cpu-protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/** The fastest kernel this engine runs (f32 lanes, else f64 lanes, else JavaScript). */
function pickKernel(): { kernel: ModelCpuKernel; matmul: MatmulKernel } {
  const f32 = sharedSimdMatmul('f32');
  if (f32 !== null) return { kernel: 'wasm-f32', matmul: f32 };
  const f64 = sharedSimdMatmul('f64');
  if (f64 !== null) return { kernel: 'wasm', matmul: f64 };
  return { kernel: 'js', matmul: matmulNT };
}

const { kernel, matmul } = pickKernel();

interface Held {
  key: number;
  threads: number;
  /** The logits of `tokens`: a view of a reused buffer (one thread) or a fresh array (split). */
  forward: (tokens: readonly number[], logitsFrom: number) => Float32Array | Promise<Float32Array>;
  /** Whether `forward`'s result is reused by the next call (so it must be copied to be sent). */
  reused: boolean;
  helpers: Worker[];
}

/** The model kept (null: none). */
let held: Held | null = null;

/** A helper holding part `p` of `parts` of `model`, driven by messages (answers come in order). */
function startHelper(model: CpuModel, parts: number, p: number, onFail: (error: Error) => void): { worker: Worker; runner: ShardRunner; ready: Promise<Float32Array> } {
  const worker = new Worker(new URL('./model-cpu-helper.worker.ts', import.meta.url), { type: 'module', name: `model CPU helper ${p}` });
  const queue: Array<{ resolve: (a: Float32Array) => void; reject: (e: Error) => void }> = [];
  worker.onmessage = (event: MessageEvent<ModelCpuHelperResponse>) => {
    const entry = queue.shift();
    if (!entry) return;
    const data = event.data;
    if (data.ok) entry.resolve(data.output);
    else {
      const error = new AttentionError(`Model CPU helper ${p}: ${data.error.message}`);
      entry.reject(error);
      onFail(error);
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    const error = new AttentionError(`Model CPU helper ${p} failed: ${event.message}. Run it again (the model is sent afresh).`);
    for (const entry of queue.splice(0)) entry.reject(error);
    onFail(error);
  };
  const shard = shardCpuModel(model, parts, p);
  const moved = new Set([shard.wte.buffer, ...shard.blocks.flatMap((b) => Object.values(b).map((a: Float32Array) => a.buffer))]);
  const step = (request: ModelCpuHelperRequest, transfer: ArrayBuffer[] = []) =>
    new Promise<Float32Array>((resolve, reject) => {
      queue.push({ resolve, reject });
      worker.postMessage(request, transfer); // a step's input is copied: the coordinator reuses its buffer
    });
  return {
    ready: step({ kind: 'shard', shard }, [...moved] as ArrayBuffer[]),
    worker,
    runner: {
      attention: (layer, input, T) => step({ kind: 'attention', layer, T, input }),
      mlp: (layer, input, T) => step({ kind: 'mlp', layer, T, input }),
      logits: (input, T) => step({ kind: 'logits', T, input }),
    },
  };
}

/** Drop the kept model and end its helpers. */
function release(): void {
  for (const helper of held?.helpers ?? []) helper.terminate();
  held = null;
}

/** The kept model for a request: the one it carries (replacing the last), else the one under its key. */
async function modelOf(model: ModelRef, threads: number): Promise<Held> {
  if (model.params) {
    release(); // drop the last model's arrays before preparing this one's
    if (isLlamaConfig(model.config)) {
      // The Llama family's forward runs on this worker alone (no split across helpers yet).
      held = { key: model.key, threads: 1, forward: createLlamaCpuForward(prepareLlamaCpuModel(model.config, model.params, true), matmul), reused: true, helpers: [] };
      return held;
    }
    // The map is this worker's own copy: its Conv1D weights are released as they are transposed.
    const prepared = prepareCpuModel(model.config, model.params, true);
    if (threads <= 1) {
      held = { key: model.key, threads: 1, forward: createCpuForward(prepared, matmul), reused: true, helpers: [] };
      return held;
    }
    const helpers: Worker[] = [];
    let failure: Error | null = null;
    const onFail = (error: Error) => (failure ??= error);
    const own = createShardSteps(shardCpuModel(prepared, threads, 0), matmul);
    const runners: ShardRunner[] = [
      { attention: async (l, ln, T) => own.attention(l, ln, T), mlp: async (l, ln, T) => own.mlp(l, ln, T), logits: async (lnF, T) => own.logits(lnF, T) },
    ];
    const ready: Array<Promise<Float32Array>> = [];
    for (let p = 1; p < threads; p++) {
      const helper = startHelper(prepared, threads, p, onFail);
      helpers.push(helper.worker);
      runners.push(helper.runner);
      ready.push(helper.ready);
    }
    try {
      await Promise.all(ready); // the helpers' start-up is not part of a forward's time
    } catch (error) {
      for (const helper of helpers) helper.terminate();
      throw error;
    }
    // Only the trunk (embeddings, LayerNorms, biases) stays whole here; the big weights live in the parts.
    const trunk = trunkOf(prepared);
    const forward = async (tokens: readonly number[]) => {
      if (failure) throw failure;
      return shardedForward(trunk, runners, tokens);
    };
    held = { key: model.key, threads, forward, reused: false, helpers };
    return held;
  }
  if (held?.key === model.key) return held;
  throw new AttentionError(
    `The model CPU worker holds no parameters for model ${model.key} (it holds ${held ? `model ${held.key}'s` : 'none'}): send the parameters with the request (the model CPU client does when the worker is new or last got another model's).`,
  );
}

/** Requests run one after another (a split forward awaits its helpers between steps). */
let queue: Promise<void> = Promise.resolve();

async function run(request: ModelCpuRequest): Promise<void> {
  const { id, model, tokens } = request;
  let split = false;
  try {
    const m = await modelOf(model, request.threads);
    split = m.threads > 1;
    const start = performance.now();
    const result = await m.forward(tokens, request.logitsFrom ?? 0);
    const ms = performance.now() - start;
    const logits = !request.logits ? new Float32Array(0) : m.reused ? result.slice() : result;
    const response: ModelCpuResponse = { id, ok: true, logits, ms, threads: m.threads, kernel };
    scope.postMessage(response, [logits.buffer]);
  } catch (error) {
    const e = error as Error;
    // A split forward fails when a helper does (the client checked the request), and a model
    // that fails to arrive is not held: either way the model is dropped (with its helpers) and the
    // client starts afresh, sending the parameters again.
    const broken = split || model.params !== undefined;
    if (broken) release();
    const response: ModelCpuResponse = { id, ok: false, error: { name: e.name, message: e.message }, broken };
    scope.postMessage(response);
  }
}

scope.onmessage = (event: MessageEvent<ModelCpuRequest>) => {
  const request = event.data;
  queue = queue.then(() => run(request));
};
