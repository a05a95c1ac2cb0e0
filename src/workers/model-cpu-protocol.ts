/**
 * Messages between the main thread and the model's CPU forward worker (model-cpu.worker.ts,
 * driven by model-cpu-client.ts). The model is named as the reference worker names it
 * ({@link ModelRef}: parameters with the first request of a key, later only the key).
 */
import type { CpuShard } from './model-cpu-shard';
import type { ModelRef } from './protocol';

/** The matrix kernel the worker's forward ran: WebAssembly SIMD summing in f32 lanes, in f64 lanes, or plain JavaScript. */
export type ModelCpuKernel = 'wasm-f32' | 'wasm' | 'js';

/** Run the f32 forward of the whole model on one sequence. */
export interface ModelCpuRequest {
  id: number;
  model: ModelRef;
  /** The token ids (checked by the client: 1 to context ids, each below vocabSize). */
  tokens: number[];
  /** Send the logits back (tokens × vocabSize floats: 200 MB for GPT-2 at 1024 tokens), or only the time. */
  logits: boolean;
  /** The first row whose logits are computed (the Llama family's forward; GPT-2's computes every row). */
  logitsFrom?: number;
  /** Threads to split the forward over (the worker and threads − 1 helpers); fixed per client. */
  threads: number;
}

/** The worker's answer: the logits (buffer transferred), the forward's time and the threads it used. */
export type ModelCpuResponse =
  | { id: number; ok: true; logits: Float32Array; ms: number; threads: number; kernel: ModelCpuKernel }
  | { id: number; ok: false; error: { name: string; message: string }; /** The worker dropped its model (a helper failed, or the model did not arrive whole): start afresh. */ broken?: boolean };

/** Coordinator → helper: the part to hold (its arrays moved), or one step on it. */
export type ModelCpuHelperRequest =
  | { kind: 'shard'; shard: CpuShard }
  | { kind: 'attention' | 'mlp'; layer: number; T: number; input: Float32Array }
  | { kind: 'logits'; T: number; input: Float32Array };

/** Helper → coordinator, one per step, in order: the step's output (moved) or what went wrong. */
export type ModelCpuHelperResponse = { ok: true; output: Float32Array } | { ok: false; error: { name: string; message: string } };
