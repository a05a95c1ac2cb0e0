/// <reference lib="webworker" />
/**
 * One share of a parallel fast-CPU run (see `parallel.ts`): computes query rows [start, end)
 * with `attentionCpuFastBlock` and sends the compact block back, its arrays transferred (not
 * copied). k and v are complete in every block but only the first worker's are wanted, so the
 * others drop them instead of shipping kvLen·width floats twice each for nothing.
 */
import { attentionCpuFastBlock } from './fast-attention';
import type { FastWorkerRequest, FastWorkerResponse } from './parallel';

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<FastWorkerRequest>) => {
  const { shape, inputs, rows, sendKV } = event.data;
  try {
    const block = attentionCpuFastBlock(shape, inputs, rows);
    const response: FastWorkerResponse = {
      ok: true,
      block: sendKV ? block : { ...block, k: new Float32Array(0), v: new Float32Array(0) },
    };
    const arrays = [response.block.q, response.block.k, response.block.v, response.block.scores, response.block.weights, response.block.output];
    // Transfer each distinct buffer once: two arrays may share one (a transfer list with a
    // duplicate throws DataCloneError).
    scope.postMessage(response, [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))]);
  } catch (error) {
    const e = error as Error;
    const response: FastWorkerResponse = { ok: false, error: { name: e.name, message: e.message } };
    scope.postMessage(response);
  }
};
