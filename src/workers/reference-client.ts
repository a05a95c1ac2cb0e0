/**
 * The main thread's handle on the reference worker: `compute()` returns a promise; a newer
 * call does not cancel an older one, but `cancel()` terminates the worker (and starts a fresh
 * one), rejecting everything pending.
 */
import { AttentionAbortError, AttentionError } from '../core/errors';
import type { AttentionInputs, AttentionResult, AttentionShape } from '../core/types';
import type { AttentionRows } from '../reference/attention';
import type { ReferenceRequest, ReferenceResponse } from './protocol';

export interface ReferenceClient {
  /** The whole f64 reference. */
  compute(shape: AttentionShape, inputs: AttentionInputs): Promise<{ result: AttentionResult; ms: number }>;
  /** The f64 reference for the given query rows only (see `attentionCpuRows`). */
  computeRows(shape: AttentionShape, inputs: AttentionInputs, rows: number[]): Promise<{ result: AttentionRows; ms: number }>;
  /** Stop whatever is running; pending promises reject with an AbortError. */
  cancel(): void;
  destroy(): void;
}

export function createReferenceClient(): ReferenceClient {
  let worker: Worker | null = null;
  let nextId = 1;
  type Done = { result: AttentionResult | AttentionRows; ms: number };
  const pending = new Map<number, { resolve: (v: Done) => void; reject: (e: Error) => void }>();

  const start = () => {
    const w = new Worker(new URL('./reference.worker.ts', import.meta.url), { type: 'module', name: 'attention reference' });
    w.onmessage = (event: MessageEvent<ReferenceResponse>) => {
      const data = event.data;
      const entry = pending.get(data.id);
      if (!entry) return;
      pending.delete(data.id);
      if (data.ok) entry.resolve({ result: data.result, ms: data.ms });
      else {
        const error = new AttentionError(data.error.message);
        error.name = data.error.name;
        entry.reject(error);
      }
    };
    w.onerror = (event) => {
      for (const entry of pending.values()) entry.reject(new AttentionError(`The reference worker failed: ${event.message}`));
      pending.clear();
    };
    return w;
  };

  const send = (shape: AttentionShape, inputs: AttentionInputs, rows?: number[]): Promise<Done> => {
    worker ??= start();
    const id = nextId++;
    // Copies go to the worker (the caller keeps its arrays for the GPU and the scene).
    const request: ReferenceRequest = { id, shape, inputs, rows };
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage(request);
    });
  };

  return {
    compute: (shape, inputs) => send(shape, inputs) as Promise<{ result: AttentionResult; ms: number }>,
    computeRows: (shape, inputs, rows) => send(shape, inputs, rows) as Promise<{ result: AttentionRows; ms: number }>,
    cancel() {
      worker?.terminate();
      worker = null;
      for (const entry of pending.values()) entry.reject(new AttentionAbortError());
      pending.clear();
    },
    destroy() {
      this.cancel();
    },
  };
}
