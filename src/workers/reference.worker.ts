/// <reference lib="webworker" />
/**
 * Runs the f64 CPU reference and the comparison off the main thread, so verifying a large
 * map never freezes the page. One message in, one message out. A model's parameters arrive with
 * the first request that names their key and stay here (one model at a time): later requests
 * send only tokens and tensors.
 */
import { AttentionError } from '../core/errors';
import { attentionCpu, attentionCpuRows } from '../reference/attention';
import { resolveShape } from '../core/types';
import { verifyAttention } from '../verify/compare';
import { verifyPickedRows } from '../verify/model-rows';
import { forwardReference } from '../model/forward-reference';
import { llamaForwardReference, llamaTraceForView } from '../model/llama-reference';
import type { LlamaRowsRequest, LlamaRowsResponse, ModelForwardRequest, ModelForwardResponse, ModelRef, ModelRowsRequest, ModelRowsResponse, ReferenceRequest, VerifyRequest, VerifyResponse } from './protocol';
import { checkLlamaEmbedRows, checkLlamaLayerRows, checkLlamaLogitsRows } from '../verify/llama-rows';
import { checkLlamaParams, isLlamaConfig, type LlamaConfig } from '../model/llama-schema';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/** The parameters of the last model sent (GPT-2 small's are 500 MB: one model is kept, not every one). */
let held: { key: number; params: Map<string, Float32Array> } | null = null;

/** The parameters a request names: the ones it carries (kept for the next), else the ones kept under its key. */
function paramsOf(model: ModelRef): Map<string, Float32Array> {
  if (model.params) {
    held = { key: model.key, params: model.params };
    return model.params;
  }
  if (held?.key === model.key) return held.params;
  throw new AttentionError(
    `The reference worker holds no parameters for model ${model.key} (it holds ${held ? `model ${held.key}'s` : 'none'}): send the parameters with the request (the reference client does when the worker is new or last got another model's).`,
  );
}

const failure = (id: number, error: unknown) => {
  const e = error as Error;
  return { id, ok: false as const, error: { name: e.name, message: e.message } };
};

/** The model's f64 forward pass, timed per sequence; the traces' arrays are transferred. */
function modelForward(request: ModelForwardRequest): void {
  const { id, model, sequences } = request;
  try {
    const params = paramsOf(model);
    const traces = [];
    const forwardMs = [];
    for (const tokens of sequences) {
      const start = performance.now();
      // A Llama-family config (modelType llama or qwen2) has its own reference, laid out as the app draws GPT-2's.
      traces.push(isLlamaConfig(model.config) ? llamaTraceForView(llamaForwardReference(model.config, params, tokens)) : forwardReference(model.config, params, tokens));
      forwardMs.push(performance.now() - start);
    }
    const transfer = traces.flatMap((t) => [t.embed, t.lnF, t.logits, ...t.layers.flatMap((l) => Object.values(l) as Float64Array[])].map((a) => a.buffer));
    const response: ModelForwardResponse = { id, ok: true, traces, forwardMs };
    scope.postMessage(response, transfer);
  } catch (error) {
    scope.postMessage(failure(id, error) satisfies ModelForwardResponse);
  }
}

/** The row check of a GPU run (src/verify/model-rows.ts), timed. */
function modelRows(request: ModelRowsRequest): void {
  const { id, model, tokens, picked } = request;
  try {
    const params = paramsOf(model);
    const start = performance.now();
    const verification = verifyPickedRows(model.config, params, picked, tokens);
    const response: ModelRowsResponse = { id, ok: true, verification, referenceMs: performance.now() - start };
    scope.postMessage(response);
  } catch (error) {
    scope.postMessage(failure(id, error) satisfies ModelRowsResponse);
  }
}

/** One part of a Llama row check (a long run's layers go one at a time), timed. */
function llamaRows(request: LlamaRowsRequest): void {
  const { id, model, tokens, rows, part } = request;
  try {
    const params = paramsOf(model);
    const config = model.config as LlamaConfig;
    if (!isLlamaConfig(config)) throw new AttentionError(`A Llama row check was sent a ${String((config as { modelType?: string }).modelType ?? 'GPT-2')} config.`);
    const start = performance.now();
    // The parameters are checked once, with the first part (the embedding's).
    if (part.kind === 'embed') checkLlamaParams(config, params);
    const checked =
      part.kind === 'embed'
        ? checkLlamaEmbedRows(config, params, part.embed, rows, tokens)
        : part.kind === 'layer'
          ? checkLlamaLayerRows(config, params, part.layer, part.x, part.g, rows, tokens.length)
          : checkLlamaLogitsRows(config, params, part.x, part.logits, rows.length);
    const response: LlamaRowsResponse = { id, ok: true, rows: checked, referenceMs: performance.now() - start };
    scope.postMessage(response);
  } catch (error) {
    scope.postMessage(failure(id, error) satisfies LlamaRowsResponse);
  }
}

function verify(request: VerifyRequest): void {
  const { id, shape, inputs, actual, rows, returnReference } = request;
  try {
    const start = performance.now();
    let response: VerifyResponse;
    if (rows) {
      const reference = attentionCpuRows(shape, inputs, rows);
      const referenceMs = performance.now() - start;
      const rowShape = { ...resolveShape(shape), seqLen: rows.length };
      response = { id, ok: true, report: verifyAttention(rowShape, actual, reference), referenceMs };
    } else {
      const reference = attentionCpu(shape, inputs);
      const referenceMs = performance.now() - start;
      response = { id, ok: true, report: verifyAttention(shape, actual, reference), referenceMs, reference: returnReference ? reference : undefined };
    }
    const transfer = response.ok && response.reference ? Object.values(response.reference).map((a: Float32Array) => a.buffer) : [];
    scope.postMessage(response, transfer);
  } catch (error) {
    scope.postMessage(failure(id, error) satisfies VerifyResponse);
  }
}

scope.onmessage = (event: MessageEvent<ReferenceRequest>) => {
  const request = event.data;
  if ('kind' in request && request.kind === 'model-forward') modelForward(request);
  else if ('kind' in request && request.kind === 'model-rows') modelRows(request);
  else if ('kind' in request && request.kind === 'llama-rows') llamaRows(request);
  else verify(request as VerifyRequest);
};
