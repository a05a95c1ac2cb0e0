/**
 * The main thread's handle on the reference worker. `verify()` returns a promise; `cancel()`
 * terminates the worker (a fresh one starts on the next call) and rejects everything pending
 * with an AbortError, so a superseded check stops costing CPU at once.
 *
 * A model's parameters go to the worker once: the client numbers each parameters object it is
 * given (a WeakMap, so a dropped model is not kept alive by its number), sends the parameters
 * with the first request of that number to the current worker, and after that only the number.
 * The worker keeps one model's; a fresh worker (after cancel or a crash) is sent them again.
 */
import { AttentionAbortError, AttentionError } from '../core/errors';
import type { AttentionInputs, AttentionResult, AttentionShape, ModelConfig } from '../core/types';
import type { GptTrace } from '../model/forward-reference';
import type { VerificationReport } from '../verify/compare';
import { modelRowsPlan, pickModelRows, type ModelRowsTensors, type ModelRowsVerification } from '../verify/model-rows';
import type { LlamaRowsPart, LlamaRowsRequest, ModelForwardRequest, ModelRef, ModelRowsRequest, ReferenceRequest, ReferenceResponse, VerifyRequest } from './protocol';
import type { LlamaConfig } from '../model/llama-schema';
import type { ModelCheckRow } from '../verify/model';

export interface VerifyOutcome {
  report: VerificationReport;
  /** Time the f64 reference took in the worker (the comparison excluded). */
  referenceMs: number;
  reference?: AttentionResult;
}

/** What {@link ReferenceClient.verifyModelRows} resolves to. */
export interface ModelRowsOutcome {
  /** Per layer and tensor, with the rows compared (`sampledRows`). */
  verification: ModelRowsVerification;
  /** Milliseconds of the check in the worker (the transfer excluded). */
  referenceMs: number;
  /** Whether this request carried the parameters (the worker's first of this model). */
  sentParams: boolean;
}

export interface ReferenceClient {
  /**
   * Verify `actual` against the f64 reference of (shape, inputs): whole, or on the given query
   * rows (then maps are heads × rows × kvLen and output rows × width).
   */
  verify(shape: AttentionShape, inputs: AttentionInputs, actual: Partial<AttentionResult>, options?: { rows?: number[]; returnReference?: boolean }): Promise<VerifyOutcome>;
  /**
   * The model's f64 forward reference on each sequence, in the worker (a 128-token pass of the
   * shipped model takes tens of milliseconds: long enough to stutter the page). Resolves with the
   * traces and the milliseconds of each pass. The parameters cross once per worker.
   */
  forwardModel(config: ModelConfig, params: ReadonlyMap<string, Float32Array>, sequences: number[][]): Promise<{ traces: GptTrace[]; forwardMs: number[] }>;
  /**
   * Check a GPU run of `tokens` layer by layer on rows (src/verify/model-rows.ts), in the worker.
   * `gpu`: the run's whole tensors (read with MODEL_ROWS_READ; `scores` optional). Only the
   * checked rows cross to the worker (plus every layer's K and V, which attention reads whole);
   * `options.rows` defaults to modelRowsPlan's. `options.transfer`: K and V arrays that own their
   * whole buffer are moved to the worker instead of copied (they are detached here afterwards).
   * Rejects with ModelRowsError for tensors of the wrong size, before anything is sent.
   */
  verifyModelRows(
    config: ModelConfig,
    params: ReadonlyMap<string, Float32Array>,
    gpu: ModelRowsTensors,
    tokens: readonly number[],
    options?: { rows?: readonly number[]; transfer?: boolean },
  ): Promise<ModelRowsOutcome>;
  /**
   * One part of a Llama-family row check in the worker (src/verify/llama-rows.ts): a long run is
   * checked a layer at a time, each with that layer's keys and values (their buffers are moved to
   * the worker: the arrays are detached here afterwards). Resolves to the rows compared.
   */
  checkLlamaRows(config: LlamaConfig, params: ReadonlyMap<string, Float32Array>, tokens: readonly number[], rows: readonly number[], part: LlamaRowsPart): Promise<{ rows: ModelCheckRow[]; referenceMs: number }>;
  /** Stop whatever is running; pending promises reject with an AbortError. */
  cancel(): void;
}

/** Whether `a` views the whole of its buffer (so moving the buffer moves nothing else). */
const ownsBuffer = (a: Float32Array | Float64Array) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;

export function createReferenceClient(): ReferenceClient {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  const keys = new WeakMap<ReadonlyMap<string, Float32Array>, number>();
  let nextKey = 1;
  /** The key of the parameters the current worker holds (null: none, or no worker). */
  let sentKey: number | null = null;

  const stop = () => {
    worker = null;
    sentKey = null;
  };

  const start = () => {
    const w = new Worker(new URL('./reference.worker.ts', import.meta.url), { type: 'module', name: 'attention reference' });
    w.onmessage = (event: MessageEvent<ReferenceResponse>) => {
      const data = event.data;
      const entry = pending.get(data.id);
      if (!entry) return;
      pending.delete(data.id);
      const resolve = entry.resolve as (v: unknown) => void;
      if (!data.ok) {
        const error = new AttentionError(data.error.message);
        error.name = data.error.name;
        entry.reject(error);
      } else if ('traces' in data) resolve({ traces: data.traces, forwardMs: data.forwardMs });
      else if ('verification' in data) resolve({ verification: data.verification, referenceMs: data.referenceMs });
      else if ('rows' in data) resolve({ rows: data.rows, referenceMs: data.referenceMs });
      else resolve({ report: data.report, referenceMs: data.referenceMs, reference: data.reference });
    };
    w.onerror = (event) => {
      for (const entry of pending.values()) entry.reject(new AttentionError(`The reference worker failed: ${event.message}`));
      pending.clear();
      stop();
    };
    return w;
  };

  /** Post a request (with buffers to move) and wait for its answer. */
  const send = <T>(request: ReferenceRequest, transfer: Transferable[] = []): Promise<T> => {
    worker ??= start();
    return new Promise<T>((resolve, reject) => {
      pending.set(request.id, { resolve: resolve as (v: never) => void, reject });
      try {
        worker!.postMessage(request, transfer);
      } catch (error) {
        // Nothing reached the worker (e.g. a detached buffer): parameters this request carried neither.
        pending.delete(request.id);
        sentKey = null;
        reject(new AttentionError(`The reference worker could not be sent the request: ${(error as Error).message}. Run the check again.`));
      }
    });
  };

  /** The model as a request names it: with its parameters when this worker lacks them. */
  const modelRef = (config: ModelConfig, params: ReadonlyMap<string, Float32Array>): ModelRef => {
    let key = keys.get(params);
    if (key === undefined) {
      key = nextKey++;
      keys.set(params, key);
    }
    worker ??= start();
    if (sentKey === key) return { key, config };
    sentKey = key;
    // Copied (structured clone), not moved: the page keeps its parameters.
    return { key, config, params: new Map(params) };
  };

  return {
    verify(shape, inputs, actual, options = {}) {
      const request: VerifyRequest = { id: nextId++, shape, inputs, actual, rows: options.rows, returnReference: options.returnReference };
      return send<VerifyOutcome>(request);
    },
    forwardModel(config, params, sequences) {
      const request: ModelForwardRequest = { id: nextId++, kind: 'model-forward', model: modelRef(config, params), sequences };
      return send(request);
    },
    async verifyModelRows(config, params, gpu, tokens, options = {}) {
      const rows = options.rows ?? modelRowsPlan(config, tokens.length).rows;
      const picked = pickModelRows(config, gpu, tokens.length, rows);
      const moved = new Set<ArrayBuffer>();
      for (const layer of picked.layers) {
        for (const name of ['k', 'v'] as const) {
          const a = layer[name];
          if (options.transfer === true && ownsBuffer(a) && !moved.has(a.buffer as ArrayBuffer)) moved.add(a.buffer as ArrayBuffer);
          else layer[name] = a.slice(); // its own buffer, moved below: one copy, not a copy and a clone
        }
      }
      // Everything else in `picked` is a fresh array of the picked rows.
      for (const a of [picked.embed, picked.logits, ...picked.layers.flatMap((l) => [l.q, l.k, l.v, l.weights, l.attn, l.resid1, l.resid2, ...(l.scores ? [l.scores] : [])])]) {
        moved.add(a.buffer as ArrayBuffer);
      }
      const model = modelRef(config, params);
      const request: ModelRowsRequest = { id: nextId++, kind: 'model-rows', model, tokens: [...tokens], picked };
      const outcome = await send<Omit<ModelRowsOutcome, 'sentParams'>>(request, [...moved]);
      return { ...outcome, sentParams: model.params !== undefined };
    },
    async checkLlamaRows(config, params, tokens, rows, part) {
      const model = modelRef(config, params);
      const request: LlamaRowsRequest = { id: nextId++, kind: 'llama-rows', model, tokens: [...tokens], rows: [...rows], part };
      const transfer = part.kind === 'layer' ? [...new Set([part.g.k.buffer, part.g.v.buffer])] : [];
      return send<{ rows: ModelCheckRow[]; referenceMs: number }>(request, transfer as Transferable[]);
    },
    cancel() {
      worker?.terminate();
      stop();
      for (const entry of pending.values()) entry.reject(new AttentionAbortError());
      pending.clear();
    },
  };
}
