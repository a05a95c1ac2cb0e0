/// <reference lib="webworker" />
/**
 * Runs the f64 CPU reference off the main thread, so verifying a large map never freezes the
 * page. One message in, one message out; result arrays travel as transferables.
 */
import { attentionCpu, attentionCpuRows } from '../reference/attention';
import type { ReferenceRequest, ReferenceResponse } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<ReferenceRequest>) => {
  const { id, shape, inputs, rows } = event.data;
  const start = performance.now();
  try {
    const result = rows ? attentionCpuRows(shape, inputs, rows) : attentionCpu(shape, inputs);
    const response: ReferenceResponse = { id, ok: true, result, ms: performance.now() - start };
    const transfer = Object.values(result).flatMap((a) => (a instanceof Float32Array ? [a.buffer] : []));
    scope.postMessage(response, transfer);
  } catch (error) {
    const e = error as Error;
    const response: ReferenceResponse = { id, ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
};
