/// <reference lib="webworker" />
/**
 * Runs the f64 CPU reference and the comparison off the main thread, so verifying a large
 * map never freezes the page. One message in, one message out.
 */
import { attentionCpu, attentionCpuRows } from '../reference/attention';
import { resolveShape } from '../core/types';
import { verifyAttention } from '../verify/compare';
import { forwardReference } from '../model/forward-reference';
import type { ModelForwardRequest, ModelForwardResponse, VerifyRequest, VerifyResponse } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/** The model's f64 forward pass, timed per sequence; the traces' arrays are transferred. */
function modelForward(request: ModelForwardRequest): void {
  const { id, config, params, sequences } = request;
  try {
    const traces = [];
    const forwardMs = [];
    for (const tokens of sequences) {
      const start = performance.now();
      traces.push(forwardReference(config, params, tokens));
      forwardMs.push(performance.now() - start);
    }
    const transfer = traces.flatMap((t) => [t.embed, t.lnF, t.logits, ...t.layers.flatMap((l) => Object.values(l) as Float64Array[])].map((a) => a.buffer));
    const response: ModelForwardResponse = { id, ok: true, traces, forwardMs };
    scope.postMessage(response, transfer);
  } catch (error) {
    const e = error as Error;
    const response: ModelForwardResponse = { id, ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
}

scope.onmessage = (event: MessageEvent<VerifyRequest | ModelForwardRequest>) => {
  if ('kind' in event.data && event.data.kind === 'model-forward') {
    modelForward(event.data);
    return;
  }
  const { id, shape, inputs, actual, rows, returnReference } = event.data as VerifyRequest;
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
    const e = error as Error;
    const response: VerifyResponse = { id, ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
};
