/// <reference lib="webworker" />
/**
 * The model's f32 CPU forward, off the main thread: the timing card's "CPU" column for models
 * whose f64 reference forward the app no longer runs whole (GPT-2-family checkpoints are checked
 * on sampled rows instead). It is the forward training and the benchmark run (src/model/forward.ts
 * forwardPass, Float32 storage) with the WebAssembly SIMD matmul of src/train/simd-matmul.ts
 * summing in f32 lanes, the fastest kernel this project has on a CPU, so the GPU is compared
 * with a fair CPU and not with a strawman.
 *
 * One model's parameters are kept (they arrive once per key, as in the reference worker), and one
 * set of activations, grown to the longest sequence asked for. The activations are one block's:
 * every layer's entry aliases the same buffers (forwardPass reads a block's input before it
 * writes resid2, so block l + 1 can read block l's resid2 in place). A forward keeps nothing but
 * the logits, so GPT-2 small at 1024 tokens needs ~50 MB of attention maps instead of 600 MB.
 *
 * The time is measured here around forwardPass only: the parameters' arrival, the copy of the
 * logits and the messages are outside it.
 */
import { AttentionError } from '../core/errors';
import { createActivations, forwardPass, type Activations } from '../model/forward';
import { matmulNT, Scratch, type MatmulKernel } from '../model/matmul';
import { byRole, type GptConfig, type ModelParams } from '../model/schema';
import { sharedSimdMatmul } from '../train/simd-matmul';
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
const scratch = new Scratch((n) => new Float32Array(n), matmul);

/** The model kept: its key, config and parameters by role, and its activations (null until the first run). */
let held: { key: number; config: GptConfig; roles: ModelParams; acts: Activations | null } | null = null;

/** The kept model for a request: the one it carries (replacing the last), else the one under its key. */
function modelOf(model: ModelRef): NonNullable<typeof held> {
  if (model.params) {
    held = null; // drop the last model's arrays before keeping this one's
    held = { key: model.key, config: model.config, roles: byRole(model.config, model.params), acts: null };
    return held;
  }
  if (held?.key === model.key) return held;
  throw new AttentionError(
    `The model CPU worker holds no parameters for model ${model.key} (it holds ${held ? `model ${held.key}'s` : 'none'}): send the parameters with the request (the model CPU client does when the worker is new or last got another model's).`,
  );
}

/** Activations for `length` tokens whose blocks share one block's buffers (module comment). */
function oneBlockActivations(config: GptConfig, length: number): Activations {
  const one = createActivations({ ...config, layers: 1 }, 1, length);
  const block = one.layers[0];
  const layers = Array.from({ length: config.layers }, (_, l) => ({ ...block, input: l === 0 ? one.x0 : block.resid2 }));
  return { ...one, config, layers };
}

scope.onmessage = (event: MessageEvent<ModelCpuRequest>) => {
  const { id, model, tokens } = event.data;
  try {
    const m = modelOf(model);
    const { config } = m;
    const length = tokens.length;
    if (m.acts === null || m.acts.length < length) {
      m.acts = null; // let the smaller set go before the larger is made
      m.acts = oneBlockActivations(config, length);
    }
    const acts = m.acts;
    acts.inputs.set(tokens);
    const start = performance.now();
    forwardPass(config, m.roles, acts, scratch, 1, length);
    const ms = performance.now() - start;
    const logits = event.data.logits ? (acts.logits.slice(0, length * config.vocabSize) as Float32Array) : new Float32Array(0);
    const response: ModelCpuResponse = { id, ok: true, logits, ms, threads: 1, kernel };
    scope.postMessage(response, [logits.buffer]);
  } catch (error) {
    const e = error as Error;
    const response: ModelCpuResponse = { id, ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
};
