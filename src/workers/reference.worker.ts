/// <reference lib="webworker" />
/**
 * Runs the f64 CPU reference and the comparison off the main thread, so verifying a large
 * map never freezes the page. One message in, one message out.
 */
import { attentionCpu, attentionCpuRows } from '../reference/attention';
import { resolveShape } from '../core/types';
import { verifyAttention } from '../verify/compare';
import type { VerifyRequest, VerifyResponse } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<VerifyRequest>) => {
  const { id, shape, inputs, actual, rows, returnReference } = event.data;
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
