/// <reference lib="webworker" />
/**
 * Runs the f64 CPU reference off the main thread, so verifying a large map never freezes the
 * page. One message in, one message out; arrays travel as transferables.
 */
import { AttentionError } from '../core/errors';
import { attentionCpu } from '../reference/attention';
import type { ReferenceRequest, ReferenceResponse } from './protocol';

self.onmessage = (event: MessageEvent<ReferenceRequest>) => {
  const { id, shape, inputs } = event.data;
  const start = performance.now();
  try {
    const result = attentionCpu(shape, inputs);
    const ms = performance.now() - start;
    const response: ReferenceResponse = { id, ok: true, result, ms };
    const transfer = Object.values(result).map((a) => (a as Float32Array).buffer);
    (self as unknown as DedicatedWorkerGlobalScope).postMessage(response, transfer);
  } catch (error) {
    const e = error as Error;
    const response: ReferenceResponse = {
      id,
      ok: false,
      error: { name: e.name, message: e.message, field: error instanceof AttentionError && 'field' in error ? String((error as { field: unknown }).field) : undefined },
    };
    (self as unknown as DedicatedWorkerGlobalScope).postMessage(response);
  }
};
