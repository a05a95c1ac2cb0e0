import type { AttentionInputs, AttentionResult, AttentionShape, ModelConfig } from '../core/types';
import type { GptTrace } from '../model/forward-reference';
import type { VerificationReport } from '../verify/compare';
import type { ModelRowsVerification, PickedModelRows } from '../verify/model-rows';
import type { ModelCheckRow } from '../verify/model';
import type { LlamaLayerRows } from '../verify/llama-rows';

/**
 * Compute the f64 reference (whole, or only the given query rows) and verify `actual` against
 * it, all in the worker: at large sizes both the reference and the comparison take long
 * enough to freeze a page.
 */
export interface VerifyRequest {
  id: number;
  shape: AttentionShape;
  inputs: AttentionInputs;
  /** The arrays to check; with `rows`, maps are heads × rows × kvLen and output rows × width. */
  actual: Partial<AttentionResult>;
  rows?: number[];
  /** Send the reference back (for readouts beside the GPU values). */
  returnReference?: boolean;
}

export type VerifyResponse =
  | { id: number; ok: true; report: VerificationReport; referenceMs: number; reference?: AttentionResult }
  | { id: number; ok: false; error: { name: string; message: string } };

/**
 * A model in a request. Its parameters (500 MB for GPT-2 small) cross to the worker once: the
 * client sends them with the first request of a key to a worker, the worker keeps them (one model
 * at a time) and later requests name only the key. A fresh worker (after cancel) gets them again.
 */
export interface ModelRef {
  /** The client's number for one parameters object. */
  key: number;
  config: ModelConfig;
  /** The parameters, when this worker does not hold this key's yet. */
  params?: Map<string, Float32Array>;
}

/** Run the model's f64 forward reference (src/model/forward-reference.ts) on each sequence. */
export interface ModelForwardRequest {
  id: number;
  kind: 'model-forward';
  model: ModelRef;
  /** One or more sequences (e.g. the text and the induction probe), each run separately. */
  sequences: number[][];
}

export type ModelForwardResponse =
  | { id: number; ok: true; traces: GptTrace[]; /** Milliseconds of each forward pass. */ forwardMs: number[] }
  | { id: number; ok: false; error: { name: string; message: string } };

/** Check a GPU run of the model on its rows (src/verify/model-rows.ts verifyPickedRows), in the worker. */
export interface ModelRowsRequest {
  id: number;
  kind: 'model-rows';
  model: ModelRef;
  /** The ids the GPU ran. */
  tokens: number[];
  /** The run's tensors cut to the checked rows (pickModelRows); their buffers are transferred. */
  picked: PickedModelRows;
}

export type ModelRowsResponse =
  | { id: number; ok: true; verification: ModelRowsVerification; /** Milliseconds of the check in the worker. */ referenceMs: number }
  | { id: number; ok: false; error: { name: string; message: string } };

/**
 * One part of a Llama-family row check (src/verify/llama-rows.ts), for a run too long to send
 * whole (a fused run of thousands of tokens): the embedding rows, one layer from its input rows
 * with that layer's keys and values, or the logits from the last layer's rows.
 */
export type LlamaRowsPart =
  | { kind: 'embed'; embed: Float32Array }
  | { kind: 'layer'; layer: number; x: Float32Array; g: LlamaLayerRows }
  | { kind: 'logits'; x: Float32Array; logits: Float32Array };

export interface LlamaRowsRequest {
  id: number;
  kind: 'llama-rows';
  model: ModelRef;
  tokens: number[];
  rows: number[];
  part: LlamaRowsPart;
}

export type LlamaRowsResponse =
  | { id: number; ok: true; rows: ModelCheckRow[]; referenceMs: number }
  | { id: number; ok: false; error: { name: string; message: string } };

/** Every request the reference worker answers. */
export type ReferenceRequest = VerifyRequest | ModelForwardRequest | ModelRowsRequest | LlamaRowsRequest;
/** Every answer of the reference worker. */
export type ReferenceResponse = VerifyResponse | ModelForwardResponse | ModelRowsResponse | LlamaRowsResponse;
