/**
 * The main thread's handle on the reference worker. `verify()` returns a promise; `cancel()`
 * terminates the worker (a fresh one starts on the next call) and rejects everything pending
 * with an AbortError, so a superseded check stops costing CPU at once.
 */
import { AttentionAbortError, AttentionError } from '../core/errors';
import type { AttentionInputs, AttentionResult, AttentionShape, ModelConfig } from '../core/types';
import type { GptTrace } from '../model/forward-reference';
import type { VerificationReport } from '../verify/compare';
import type { ModelForwardRequest, ModelForwardResponse, VerifyRequest, VerifyResponse } from './protocol';

export interface VerifyOutcome {
  report: VerificationReport;
  /** Time the f64 reference took in the worker (the comparison excluded). */
  referenceMs: number;
  reference?: AttentionResult;
}

export interface ReferenceClient {
  /**
   * Verify `actual` against the f64 reference of (shape, inputs): whole, or on the given query
   * rows (then maps are heads × rows × kvLen and output rows × width).
   */
  verify(shape: AttentionShape, inputs: AttentionInputs, actual: Partial<AttentionResult>, options?: { rows?: number[]; returnReference?: boolean }): Promise<VerifyOutcome>;
  /**
   * The trained model's f64 forward reference on each sequence, in the worker (a 128-token pass
   * takes tens of milliseconds: long enough to stutter the page). Resolves with the traces and
   * the milliseconds of each pass.
   */
  forwardModel(config: ModelConfig, params: ReadonlyMap<string, Float32Array>, sequences: number[][]): Promise<{ traces: GptTrace[]; forwardMs: number[] }>;
  /** Stop whatever is running; pending promises reject with an AbortError. */
  cancel(): void;
}

export function createReferenceClient(): ReferenceClient {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();

  const start = () => {
    const w = new Worker(new URL('./reference.worker.ts', import.meta.url), { type: 'module', name: 'attention reference' });
    w.onmessage = (event: MessageEvent<VerifyResponse | ModelForwardResponse>) => {
      const data = event.data;
      const entry = pending.get(data.id);
      if (!entry) return;
      pending.delete(data.id);
      if (data.ok && 'traces' in data) (entry.resolve as (v: { traces: GptTrace[]; forwardMs: number[] }) => void)({ traces: data.traces, forwardMs: data.forwardMs });
      else if (data.ok) (entry.resolve as (v: VerifyOutcome) => void)({ report: data.report, referenceMs: data.referenceMs, reference: data.reference });
      else {
        const error = new AttentionError(data.error.message);
        error.name = data.error.name;
        entry.reject(error);
      }
    };
    w.onerror = (event) => {
      for (const entry of pending.values()) entry.reject(new AttentionError(`The reference worker failed: ${event.message}`));
      pending.clear();
      worker = null;
    };
    return w;
  };

  return {
    verify(shape, inputs, actual, options = {}) {
      worker ??= start();
      const id = nextId++;
      const request: VerifyRequest = { id, shape, inputs, actual, rows: options.rows, returnReference: options.returnReference };
      return new Promise<VerifyOutcome>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: never) => void, reject });
        worker!.postMessage(request);
      });
    },
    forwardModel(config, params, sequences) {
      worker ??= start();
      const id = nextId++;
      const request: ModelForwardRequest = { id, kind: 'model-forward', config, params: new Map(params), sequences };
      return new Promise<{ traces: GptTrace[]; forwardMs: number[] }>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: never) => void, reject });
        worker!.postMessage(request);
      });
    },
    cancel() {
      worker?.terminate();
      worker = null;
      for (const entry of pending.values()) entry.reject(new AttentionAbortError());
      pending.clear();
    },
  };
}
