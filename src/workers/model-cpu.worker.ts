/// <reference lib="webworker" />
/**
 * The model's f32 CPU forward, off the main thread: the timing card's "CPU" column for models
 * whose f64 reference forward the app no longer runs whole (GPT-2-family checkpoints are checked
 * on sampled rows instead). The forward is model-cpu-forward.ts's (forwardPass's layers with the
 * weights transposed once) through the WebAssembly SIMD matmul of src/train/simd-matmul.ts
 * summing in f32 lanes, the fastest kernel this project has on a CPU, so the GPU is compared
 * with a fair CPU and not with a strawman.
 *
 * One model is kept (its parameters arrive once per key, as in the reference worker), prepared
 * when it arrives, with its buffers grown to the longest sequence asked for. The time is
 * measured here around the forward only: the parameters' arrival and preparation, the copy of
 * the logits and the messages are outside it.
 */
import { AttentionError } from '../core/errors';
import { matmulNT, type MatmulKernel } from '../model/matmul';
import { sharedSimdMatmul } from '../train/simd-matmul';
import { createCpuForward, prepareCpuModel } from './model-cpu-forward';
import type { ModelRef } from './protocol';
import type { ModelCpuKernel, ModelCpuRequest, ModelCpuResponse } from './model-cpu-protocol';

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

/** The model kept: its key, vocabulary size and forward. */
let held: { key: number; vocabSize: number; forward: (tokens: ArrayLike<number>) => Float32Array } | null = null;

/** The kept model for a request: the one it carries (replacing the last), else the one under its key. */
function modelOf(model: ModelRef): NonNullable<typeof held> {
  if (model.params) {
    held = null; // drop the last model's arrays before preparing this one's
    // The map is this worker's own copy: its Conv1D weights are released as they are transposed.
    held = { key: model.key, vocabSize: model.config.vocabSize, forward: createCpuForward(prepareCpuModel(model.config, model.params, true), matmul) };
    return held;
  }
  if (held?.key === model.key) return held;
  throw new AttentionError(
    `The model CPU worker holds no parameters for model ${model.key} (it holds ${held ? `model ${held.key}'s` : 'none'}): send the parameters with the request (the model CPU client does when the worker is new or last got another model's).`,
  );
}

scope.onmessage = (event: MessageEvent<ModelCpuRequest>) => {
  const { id, model, tokens } = event.data;
  try {
    const m = modelOf(model);
    const start = performance.now();
    const result = m.forward(tokens);
    const ms = performance.now() - start;
    const logits = event.data.logits ? result.slice() : new Float32Array(0);
    const response: ModelCpuResponse = { id, ok: true, logits, ms, threads: 1, kernel };
    scope.postMessage(response, [logits.buffer]);
  } catch (error) {
    const e = error as Error;
    const response: ModelCpuResponse = { id, ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
};
